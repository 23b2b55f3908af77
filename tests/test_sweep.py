"""The sweep on real MNIST at toy size: grid from YAML, parallel runs, failures, resume, determinism."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.paths import CONF_DIR
from nnscratch.run import plan, sweep

ROOT = CONF_DIR.parent
LOKY = {"backend": "loky", "n_jobs": 2, "scheduler": None}


def sweep_argv(*overrides: str) -> list[str]:
    """The command line of `python -m experiments.sweep <overrides>`."""
    return [sys.executable, "-m", "experiments.sweep", *overrides]


@pytest.fixture
def conf(tmp_path) -> Path:
    """A copy of conf/ with a new weights option and a new grid, both added as YAML only."""
    folder = tmp_path / "conf"
    shutil.copytree(CONF_DIR, folder)
    (folder / "weights" / "tiny_normal.yaml").write_text("scheme: normal\nstd: 0.05\nper_layer: null\n")
    (folder / "sweep" / "toy.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "toy",
                "axes": {
                    "model": {"hidden": [[8]]},
                    "data": {"subset": [500]},
                    "weights": ["uniform", "tiny_normal"],
                    "train": {"iterations": [20], "eval_every": [10]},
                    "seed": [0, 1],
                },
            },
            sort_keys=False,
        )
    )
    return folder


def toy(conf: Path, **axes) -> dict:
    grid = yaml.safe_load((conf / "sweep" / "toy.yaml").read_text())
    grid["axes"] |= axes
    return grid


def run(conf, tmp_path, grid=None, parallel=LOKY, **kw):
    return sweep.run(
        sweep.SweepRequest(grid or toy(conf), [], tmp_path / "out", conf_dir=conf, **kw), parallel, progress=False
    )


def metrics_by_id(sweep_dir: Path) -> dict:
    """Every run's metrics less its wall time and the process that ran it."""
    return {
        d.name: {k: v for k, v in results.read_run(d)["metrics"].items() if k not in ("seconds", "worker")}
        for d in results.run_dirs(sweep_dir)
    }


def test_new_option_and_grid_from_yaml_run_end_to_end(conf, tmp_path):
    sweep_dir, counts = run(conf, tmp_path)
    df = results.read_results(sweep_dir)
    assert len(df) == 4 and counts["finished"] == 4
    assert set(df["weights"]) == {"uniform", "tiny_normal"} and set(df["seed"]) == {0, 1}
    assert list(df.columns) == [
        "run_id",
        "model.hidden",
        "data.subset",
        "weights",
        "train.iterations",
        "train.eval_every",
        "seed",
        *results.RESULT_COLUMNS,
    ]
    tiny = results.read_run(sweep_dir / "runs" / df.loc[df.weights == "tiny_normal", "run_id"].iloc[0])
    assert tiny["run"]["config"]["weights"] == {"scheme": "normal", "std": 0.05, "per_layer": None}
    for name in ("sweep.json", "environment.json", "results.csv"):
        assert (sweep_dir / name).is_file()
    env = json.loads((sweep_dir / "environment.json").read_text())
    assert env["blas"] and env["packages"]["numpy"]


def test_cli_smoke_sweep_writes_expected_rows_and_run_folders(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        sweep_argv(
            "sweep=smoke",
            "adaptive.enabled=false",
            f"out_root={out}",
            "sweep.axes.train.iterations=[20]",
            "sweep.axes.model.hidden=[[10]]",
            "report=false",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = (out / "smoke").iterdir()
    df = results.read_results(sweep_dir)
    assert len(df) == 16 and df["status"].eq("finished").all()
    assert {"model.hidden", "data.subset", "data.scaling", "weights", "biases", "seed"} <= set(df.columns)
    assert all((sweep_dir / "runs" / rid / "history.csv").is_file() for rid in df["run_id"])
    # no terminal here: the progress is plain log lines (stdout, Hydra's job logging), the last one at the end
    lines = [line for line in proc.stdout.splitlines() if " elapsed, " in line]
    assert lines and "16/16 runs (0 failed), 100 % of the planned work done" in lines[-1] and "\r" not in proc.stderr


@pytest.mark.parametrize("stack_rows", [0, 256])
def test_neither_the_worker_count_nor_a_resume_changes_a_number(conf, tmp_path, stack_rows):
    """A run's last bits depend on its stack-mates (BLAS rounds a row differently with the product's
    shape), so the stacks are planned from the grid and parallel.stack_tasks, never from the worker
    count, and a resumed sweep re-runs a lost stack as it was."""
    stacking = {"stack_rows": stack_rows, "stack_tasks": 2}
    one, _ = run(conf, tmp_path / "a", parallel={**LOKY, "n_jobs": 1, **stacking})
    two, _ = run(conf, tmp_path / "b", parallel={**LOKY, "n_jobs": 2, **stacking})
    assert metrics_by_id(one) == metrics_by_id(two)
    assert [m["stacked_with"] for m in metrics_by_id(one).values()] == [2 if stack_rows else 1] * 4
    _, specs = sweep.plan(toy(conf), [], conf)
    lost = [s["run_id"] for s in plan.tasks(specs, stack_rows, split=2)[0]]  # a whole task, as an interrupt loses
    for rid in lost:
        shutil.rmtree(two / "runs" / rid)
    _, counts = run(conf, tmp_path / "b", parallel={**LOKY, **stacking}, resume=str(two))
    assert counts["finished"] == len(lost)
    assert metrics_by_id(one) == metrics_by_id(two)


def test_dask_backend_gives_the_same_results_as_loky(conf, tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is installed by .ci/run")
    loky, _ = run(conf, tmp_path / "a")
    dask, counts = run(conf, tmp_path / "b", parallel={"backend": "dask", "n_jobs": 2, "scheduler": None})
    assert counts["finished"] == 4
    assert metrics_by_id(loky) == metrics_by_id(dask)
    assert results.read_results(dask).drop(columns="seconds").equals(results.read_results(loky).drop(columns="seconds"))


def test_a_raising_run_and_a_killed_worker_are_failed_while_others_finish(conf, tmp_path):
    # two runs of each kind (each killed worker costs the pool a new one: a third seed checked nothing more)
    grid = toy(conf, weights=["uniform"], fault=[None, "raise", "kill"], seed=[0, 1])
    sweep_dir, counts = run(conf, tmp_path, grid)
    df = results.read_results(sweep_dir)
    assert len(df) == 6
    assert (df.loc[df.fault.isna(), "status"] == "finished").all()
    failed = df[df.fault.notna()]
    assert (failed["status"] == "failed").all() and len(failed) == 4
    assert failed.loc[failed.fault == "raise", "error"].str.contains("fault injected").all()
    assert failed.loc[failed.fault == "kill", "error"].str.contains("worker died").all()
    assert counts["failed"] == 4 and counts["finished"] == 2


def test_resume_runs_only_missing_or_failed_runs(conf, tmp_path):
    sweep_dir, _ = run(conf, tmp_path)
    ids = sorted(d.name for d in results.run_dirs(sweep_dir))
    shutil.rmtree(sweep_dir / "runs" / ids[0])
    failed = sweep_dir / "runs" / ids[1] / "metrics.json"
    failed.write_text(json.dumps({"status": "failed", "error": "simulated"}))
    (sweep_dir / "results.csv").unlink()
    before = {i: (sweep_dir / "runs" / i / "metrics.json").stat().st_mtime_ns for i in ids[2:]}
    _, counts = run(conf, tmp_path, resume=str(sweep_dir))
    assert counts["finished"] == 2
    assert before == {i: (sweep_dir / "runs" / i / "metrics.json").stat().st_mtime_ns for i in ids[2:]}
    df = results.read_results(sweep_dir)
    assert sorted(df["run_id"]) == ids and df["status"].eq("finished").all()


def test_resume_refuses_a_different_sweep(conf, tmp_path):
    sweep_dir, _ = run(conf, tmp_path)
    with pytest.raises(ConfigError, match="differs .* in products"):
        run(conf, tmp_path, toy(conf, seed=[0, 1, 2]), resume=str(sweep_dir))
    # parallel settings may change on resume
    _, counts = run(conf, tmp_path, parallel={**LOKY, "n_jobs": 1}, resume=str(sweep_dir))
    assert sum(counts.values()) == 0


@pytest.mark.parametrize(
    "change,message",
    [
        ({"weights": ["uniform", "nope"]}, "unknown option 'nope'"),
        ({"model": {"hidden": [[0]]}}, "model.hidden"),
        ({"data": {"subset": [60001]}}, "data.subset"),
        ({"train": {"lr": [-0.1], "iterations": [20], "eval_every": [10]}}, "train.lr"),
        ({"seed": []}, "axis seed: empty"),
    ],
)
def test_bad_grid_is_refused_before_anything_is_written(conf, tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        run(conf, tmp_path, toy(conf, **change))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "change,line",
    [
        (
            {"axis": {"seed": [0]}},
            "sweep 'toy': sweep: unknown key 'axis' (did you mean 'axes'?) (keys: name, axes, extra, claims)",
        ),
        ({"axes": {"train": {"lr": ["fast"]}}}, "sweep 'toy': train.lr: must be a number, got 'fast'"),
        (
            {"axes": {"model": {"hidden": [[]]}}},
            "sweep 'toy': model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got []",
        ),
    ],
)
def test_a_bad_grid_file_is_one_line_naming_the_grid_and_the_key(conf, tmp_path, change, line):
    with pytest.raises(ConfigError) as err:
        run(conf, tmp_path, {"name": "toy"} | change)
    assert str(err.value) == line
    assert not (tmp_path / "out").exists()


def test_a_new_group_is_its_folder_and_one_line(conf, tmp_path):
    """A group the trainer ignores: swept, and recorded in each run's config and in results.csv."""
    (conf / "colour").mkdir()
    for name in ("red", "blue"):
        (conf / "colour" / f"{name}.yaml").write_text(f"name: {name}\n")
    run_yaml = conf / "run.yaml"
    run_yaml.write_text(run_yaml.read_text().replace("  - _self_", "  - colour: red\n  - _self_", 1))
    assert sweep.base_overrides(["colour=blue", "parallel=dask", "seed=3"], conf) == ["colour=blue", "seed=3"]
    sweep_dir, counts = run(conf, tmp_path, toy(conf, colour=["red", "blue"], weights=["uniform"]))
    df = results.read_results(sweep_dir)
    assert counts["finished"] == 4 and sorted(df["colour"]) == ["blue", "blue", "red", "red"]
    configs = [results.read_run(sweep_dir / "runs" / r)["run"]["config"] for r in df["run_id"]]
    assert sorted(c["colour"]["name"] for c in configs) == sorted(df["colour"])


def test_bad_grid_lists_every_problem_at_once(conf, tmp_path):
    with pytest.raises(ConfigError) as err:
        run(conf, tmp_path, toy(conf, model={"hidden": [[0]]}, data={"subset": [70000]}))
    assert "model.hidden" in str(err.value) and "data.subset" in str(err.value)


def test_cli_bad_grid_exits_nonzero_and_writes_nothing(tmp_path):
    """A new process: its stderr is the one line, nothing an import printed (the other refusals run in-process)."""
    proc = subprocess.run(
        sweep_argv(
            "sweep=smoke",
            "adaptive.enabled=false",
            f"out_root={tmp_path / 'o'}",
            "+sweep.axes.train.lr=[0]",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and proc.stderr == "error: sweep 'smoke': train.lr: must be > 0, got 0.0\n"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "override,line",
    [
        (
            "sweep.axes.model.hidden=[[]]",
            "error: sweep 'smoke': model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got []",
        ),
        (
            "+sweep.axis.seed=[0]",
            "error: sweep: unknown key 'axis' (did you mean 'axes'?) (keys: name, axes, extra, claims)",
        ),
        ("parallel.n_jobs=0", "error: parallel.n_jobs: must be >= 1, got 0"),
        (
            "out_root={file}/outputs",
            "error: out_root={file}/outputs: cannot create {file}/outputs/smoke/<stamp> (Not a directory); "
            "give out_root= a folder you can write to",
        ),
    ],
)
def test_cli_mistakes_are_one_line_and_leave_nothing(tmp_path, in_process, override, line):
    """In this process (test_cli_bad_grid_exits_nonzero_and_writes_nothing runs a refusal as a new one)."""
    (tmp_path / "file").write_text("a file, not a folder")
    out = f"out_root={tmp_path / 'o'}"
    args = ["sweep=smoke", "adaptive.enabled=false", out, override.format(file=tmp_path / "file")]
    proc = in_process("experiments.sweep", *args)
    assert proc.returncode != 0
    (got,) = proc.stderr.strip().splitlines()
    assert re.sub(r"/smoke/[\d_-]+ ", "/smoke/<stamp> ", got) == line.format(file=tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_sweep_cell_equals_its_single_run_command(conf, tmp_path, in_process):
    sweep_dir, _ = run(conf, tmp_path)
    cell = results.read_run(results.run_dirs(sweep_dir)[0])
    out = tmp_path / "single"
    args = cell["run"]["overrides"]
    proc = in_process("experiments.train", *args, f"out_dir={out}", f"--config-dir={conf}")
    assert proc.returncode == 0, proc.stderr
    assert cell["run"]["command"].startswith("python -m experiments.train ")
    single = results.read_run(out)
    assert single["run"]["run_id"] == cell["run"]["run_id"]
    drop = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "worker")}
    assert drop(single["metrics"]) == drop(cell["metrics"])
    assert pd.read_csv(out / "history.csv").equals(pd.read_csv(results.run_dirs(sweep_dir)[0] / "history.csv"))


def test_ctrl_c_keeps_finished_runs_and_exits_nonzero(tmp_path, wait_for):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        sweep_argv(
            "sweep=smoke",
            "adaptive.enabled=false",
            f"out_root={out}",
            "sweep.axes.train.iterations=[100]",  # 32 runs: most still to train at the first record
            "sweep.axes.data.subset=[2000]",
            "report=false",
        ),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a shell that starts a job in the background (CI may) leaves SIGINT ignored, and Python then
        # never raises KeyboardInterrupt: give the sweep the default handler, as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(lambda: list(out.glob("smoke/*/runs/*/metrics.json")), 120, "the first run's record")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole process group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "interrupted" in stderr
    (sweep_dir,) = (out / "smoke").iterdir()
    df = results.read_results(sweep_dir)
    assert 1 <= len(df) < 32 and df["status"].eq("finished").all()


def test_stacked_sweep_matches_the_unstacked_one_within_float32_rounding(conf, tmp_path):
    plain, _ = run(conf, tmp_path / "a")
    stacked, counts = run(conf, tmp_path / "b", parallel={**LOKY, "stack_rows": 64})
    assert counts["finished"] == 4
    a, b = metrics_by_id(plain), metrics_by_id(stacked)
    assert a.keys() == b.keys()
    assert {m["stacked_with"] for m in a.values()} == {1} and max(m["stacked_with"] for m in b.values()) > 1
    for rid in a:
        assert a[rid]["outcome"] == b[rid]["outcome"]
        assert abs(a[rid]["test_acc"] - b[rid]["test_acc"]) <= 0.002


@pytest.mark.parametrize(
    "parallel,key",
    [
        ({"backend": "threads"}, "parallel.backend"),
        ({"n_jobs": 0}, "parallel.n_jobs"),
        ({"stack_rows": -1}, "parallel.stack_rows"),
        ({"stack_tasks": 0}, "parallel.stack_tasks"),
        ({"checkpoint_every": -1}, "parallel.checkpoint_every"),
    ],
)
def test_bad_parallel_settings_are_refused_before_anything_is_written(conf, tmp_path, parallel, key):
    with pytest.raises(ConfigError, match=key):
        run(conf, tmp_path, parallel={**LOKY, **parallel})
    assert not (tmp_path / "out").exists()
