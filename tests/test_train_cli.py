"""python -m experiments.train: the log's reference run, and bad values refused before anything is written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnscratch.paths import CONF_DIR

pytestmark = pytest.mark.slow  # end to end: the entry points in subprocesses


def train_cli(*args, cwd=CONF_DIR.parent):
    return subprocess.run(
        [sys.executable, "-m", "experiments.train", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_a_refusal_in_a_new_process_is_the_one_line_it_is_in_this_one(tmp_path, in_process):
    """What the tests below see in-process is what a user's new interpreter prints: nothing imported
    adds a line to stderr, and the exit status is the same."""
    args = ("model.hidden=[0]", f"out_dir={tmp_path / 'run'}")
    real, here = train_cli(*args, cwd=tmp_path), in_process("experiments.train", *args, cwd=tmp_path)
    assert (real.returncode, real.stdout, real.stderr) == (here.returncode, here.stdout, here.stderr) != (0, "", "")
    assert list(tmp_path.iterdir()) == []


def test_default_run_is_the_logs_reference_and_writes_its_record(tmp_path):
    out = tmp_path / "run"
    proc = train_cli(f"out_dir={out}", "train.iterations=50")
    assert proc.returncode == 0, proc.stderr
    assert "train_acc" in proc.stdout and "test_acc" in proc.stdout and "outcome ok" in proc.stdout
    run = json.loads((out / "config.json").read_text())
    assert run["config"]["model"]["hidden"] == [10] and run["config"]["data"]["subset"] == 5000
    assert run["config"]["data"]["scaling"] == "unit" and run["config"]["weights"]["scheme"] == "uniform"
    assert run["config"]["train"]["lr"] == 0.1 and run["command"].endswith("train.iterations=50")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"train_acc", "test_acc", "outcome"} <= set(metrics)
    assert (out / "history.csv").read_text().startswith("iteration,loss,train_acc,test_acc")


@pytest.mark.parametrize(
    "override,key",
    [
        ("model.hidden=[0]", "model.hidden"),
        ("data.subset=60001", "data.subset"),
        ("train.lr=0", "train.lr"),
        ("weights.scheme=orthogonal", "weights.scheme"),
        ("weights=orthogonal", "weights"),
        ("data.scaling=minmax", "data.scaling"),
    ],
)
def test_bad_value_names_the_key_exits_nonzero_and_writes_nothing(tmp_path, in_process, override, key):
    proc = in_process("experiments.train", override, f"out_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode != 0
    assert key in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "override,line",
    [
        (
            "+train.lrr=0.5",
            "error: train: unknown key 'lrr' (did you mean 'lr'?) (keys: lr, iterations, batch_size, "
            "eval_every, collapse_margin, blas_threads, skip_dead)",
        ),
        ("model.hidden=[]", "error: model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got []"),
        (
            "+weights.std=0.1",
            "error: weights: 'std' means nothing to scheme 'uniform' (its keys: scheme, per_layer); remove it",
        ),
        ("+logger.uri=x", "error: logger: unknown key 'uri' (keys: name)"),
        (
            "train.lrr=0.5",
            "error: train: unknown key 'lrr' (did you mean 'lr'?) (keys: lr, iterations, batch_size, "
            "eval_every, collapse_margin, blas_threads, skip_dead)",
        ),
        (
            "optimizer=adamm",
            "error: In 'run': Could not find 'optimizer/adamm' Available options in 'optimizer': adam gd momentum",
        ),
    ],
)
def test_each_mistake_of_the_issue_is_one_line_and_writes_nothing(tmp_path, in_process, override, line):
    proc = in_process("experiments.train", override, f"out_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [line]
    assert list(tmp_path.iterdir()) == []


def test_missing_data_is_one_clear_error(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.train",
            "data=mnist",
            f"out_dir={tmp_path / 'run'}",
            "data.mirrors=[http://127.0.0.1:9/]",
        ],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "NNSCRATCH_DATA_DIR": str(tmp_path / "none"),
            "HOME": str(tmp_path),
        },
    )
    assert proc.returncode != 0
    assert "dataset 'mnist' not found" in proc.stderr and "NNSCRATCH_DATA_DIR" in proc.stderr
    assert not (tmp_path / "run").exists()


SMALL = ["train.iterations=10", "train.eval_every=5", "data.subset=300"]


def runs_under(folder) -> dict:
    """{job folder name: run id} of every run record below `folder`."""
    return {p.parent.name: json.loads(p.read_text())["run_id"] for p in sorted(folder.rglob("config.json"))}


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_multirun_gives_each_job_its_own_folder(tmp_path, launcher):
    """Two jobs start within the same second; each writes its own folder, beside Hydra's .hydra/."""
    proc = train_cli("-m", f"hydra/launcher={launcher}", "model.hidden=[10],[32]", *SMALL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")  # outputs/multirun/<date>/<time>
    jobs = runs_under(sweep)
    assert sorted(jobs) == ["0", "1"] and len(set(jobs.values())) == 2
    assert all((sweep / j / "metrics.json").is_file() and (sweep / j / ".hydra").is_dir() for j in jobs)
    assert (sweep / "multirun.yaml").is_file()


def test_out_dir_is_an_alias_and_never_overwritten(tmp_path, in_process):
    """In this process (Hydra's basic launcher runs the jobs in it too); test_a_multirun_gives_each_job_its_own_folder
    runs such a multirun as a new process."""
    train = lambda *args: in_process("experiments.train", *args, cwd=tmp_path)
    proc = train("-m", "model.hidden=[10],[32]", *SMALL, f"out_dir={tmp_path / 'x'}")
    assert proc.returncode == 0, proc.stderr
    assert sorted(runs_under(tmp_path / "x")) == ["0", "1"]  # a multirun's out_dir: one folder per job
    first = (tmp_path / "x" / "0" / "metrics.json").read_text()
    again = train(*SMALL, "model.hidden=[64]", f"out_dir={tmp_path / 'x' / '0'}")
    assert again.returncode != 0 and "already holds a run" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "x" / "0" / "metrics.json").read_text() == first
    run = train(*SMALL, "hydra.run.dir=elsewhere")
    assert run.returncode == 0 and (tmp_path / "elsewhere" / "metrics.json").is_file()
    default = train(*SMALL)
    assert default.returncode == 0 and len(list((tmp_path / "outputs" / "train").glob("*/*/metrics.json"))) == 1


@pytest.mark.parametrize("entry,config", [("train", "train"), ("sweep", "sweep"), ("report", "report")])
def test_help_lists_only_the_groups_an_entry_point_reads(in_process, entry, config):
    import yaml

    proc = in_process(f"experiments.{entry}", "--help")
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split("== Configuration groups (group=option) ==")[1].split("== Config ==")[0]
    groups = {line.split(":")[0] for line in listed.strip().splitlines() if ": " in line and "(none" not in line}

    def groups_of(name: str) -> set[str]:  # following the configs a defaults list includes (run.yaml)
        defaults = yaml.safe_load((CONF_DIR / f"{name}.yaml").read_text())["defaults"]
        included = set().union(*(groups_of(d) for d in defaults if isinstance(d, str) and d != "_self_"))
        return included | {k for d in defaults if isinstance(d, dict) for k in d if not k.startswith("override")}

    reads = groups_of(config)
    assert groups == reads
    if entry == "train":
        assert {"parallel", "sweep"}.isdisjoint(groups) and "weights: he, normal" in listed


def test_the_report_reads_a_multirun_as_a_sweep(tmp_path):
    proc = train_cli("-m", "weights=uniform,zeros", "seed=0,1", *SMALL, "hydra.sweep.dir=mr", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = subprocess.run(
        [sys.executable, "-m", "experiments.report", f"sweep_dir={tmp_path / 'mr'}"],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    import pandas as pd

    df = pd.read_csv(tmp_path / "mr" / "results.csv")
    assert len(df) == 4 and set(df["weights"]) == {"uniform", "zeros"} and set(df["seed"]) == {0, 1}
    assert df.loc[df.weights == "zeros", "outcome"].eq("collapsed").all()
    html = (tmp_path / "mr" / "report.html").read_text()
    assert "weights (uniform, zeros), 2 seeds per cell" in html and "Zero weight initialization" in html


@pytest.mark.parametrize("how", ["env", "data.dir"])
def test_relative_data_folders_mean_where_the_command_was_typed_in_every_job(tmp_path, how):
    """The README's NNSCRATCH_DATA_DIR=../shared/data, typed in a folder other than the jobs' own:
    the joblib launcher's workers, each in its own job folder (hydra.job.chdir=true), find the data,
    and so does a job whose data.dir= is relative."""
    shared = Path(os.environ["NNSCRATCH_DATA_DIR"])
    typed_in = tmp_path / "typed" / "here"
    typed_in.mkdir(parents=True)
    (tmp_path / "typed" / "data").symlink_to(shared)  # ../data from where it is typed, nowhere else
    relative = "../data" if how == "env" else "../data/mnist"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(CONF_DIR.parent))
    for name in ("NNSCRATCH_DATA_DIR", "NNSCRATCH_DATA_DIR_GIVEN", "NNSCRATCH_LAUNCH_DIR"):
        env.pop(name, None)  # as in a fresh shell
    args = ["data.mirrors=[http://127.0.0.1:9/]", "hydra/launcher=joblib", "hydra.job.chdir=true", "seed=0,1", *SMALL]
    if how == "env":
        env["NNSCRATCH_DATA_DIR"] = relative
    else:
        args.append(f"data.dir={relative}")
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", "-m", *args, f"hydra.sweep.dir={tmp_path / 'mr'}"],
        cwd=typed_in,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(runs_under(tmp_path / "mr")) == ["0", "1"]
