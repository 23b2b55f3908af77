"""Faults users meet: a folder from someone else (edited, cut short, a crafted checkpoint), a full
disk, an open cluster port. Real MNIST at small size, real files; see docs/record/durability.md, "Faults"."""

import hashlib
import json
import logging
import os
import pickle
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmarks import same_numbers
from benchmarks.stops_grid import every_number
from nnscratch import results
from nnscratch.paths import CONF_DIR
from nnscratch.run import checkpoint, sweep
from nnscratch.run.prepared import data_key, open_prepared, save_prepared
from nnscratch.run.task import run_task
from nnscratch.train import Hooks, train_stack
from nnscratch.train.saved import decode, encode

# two runs in one task, admitted one after the other: a checkpoint can hold one stopped and one training
QUEUED = {
    "name": "queued",
    "axes": {
        "model": {"hidden": [[32]]},
        "data": {"subset": [1000]},
        "train": {"iterations": [40], "eval_every": [10]},
        "seed": [0, 1],
    },
}
TINY = {**QUEUED, "name": "tiny", "axes": {**QUEUED["axes"], "seed": [0, 1, 2, 3]}}
ROOT = CONF_DIR.parent
IN_PROCESS = {"backend": "loky", "n_jobs": 1, "scheduler": None, "stack_rows": 0, "stack_tasks": 1}


# ---------------------------------------------------------------- a checkpoint from someone else


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> tuple[list[dict], Path, dict, list[bytes]]:
    """The QUEUED task's specs, its prepared data, every_number of it run straight, and its states."""
    tmp = tmp_path_factory.mktemp("task")
    _, specs = sweep.plan(QUEUED, [])
    data_dir = save_prepared(specs, tmp / "prepared")[data_key(specs[0]["config"])]
    run_task(specs, data_dir, results.runs_dir(tmp / "straight"), 64)
    return specs, data_dir, every_number(tmp / "straight"), states_of(specs, data_dir)


def states_of(specs: list[dict], data_dir: Path) -> list[bytes]:
    """The task's state after every iteration."""
    states = []
    train_stack([s["config"] for s in specs], open_prepared(data_dir), 64, hooks=Hooks(checkpoint=(0.0, states.append)))
    return states


def signed(payload: bytes) -> bytes:
    """A checkpoint file's bytes around `payload`, with a SHA-256 that matches (anyone can compute one)."""
    return hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def fingerprinted(state: bytes) -> bytes:
    return signed(json.dumps(checkpoint.fingerprint()).encode() + b"\n" + state)


class Planted:
    """Unpickling this runs code: it writes a file (what a crafted checkpoint would do, less harmful)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def crafted_files(marker: Path, state: bytes) -> dict[str, tuple[bytes, str]]:
    """{case: (file content, what the line must say)} of checkpoints a sweep must refuse."""
    evil = pickle.dumps({"fingerprint": checkpoint.fingerprint(), "state": Planted(marker)})
    plain = decode(state)
    plain["models"][0]["params"]["W"][0] = np.zeros((3, 3), np.float32)  # the wrong shape
    other = checkpoint.fingerprint() | {"code": "0123456789abcdef"}
    return {
        "an older version's pickle, signed": (signed(evil), "not a checkpoint of this version"),
        "a pickle in place of the state": (fingerprinted(pickle.dumps(Planted(marker))), "not a saved state"),
        "a state of the wrong shapes": (fingerprinted(encode(plain)), "holds params W0 as float32 (3, 3)"),
        "another version of the code": (signed(json.dumps(other).encode() + b"\n" + state), "another version"),
    }


@pytest.mark.parametrize("case", range(4))
def test_a_crafted_or_foreign_checkpoint_is_refused_in_one_line_runs_nothing_and_its_task_restarts(
    task, tmp_path, caplog, case
):
    specs, data_dir, straight, states = task
    marker = tmp_path / "ran"
    name, (content, says) = list(crafted_files(marker, states[len(states) // 2]).items())[case]
    path = checkpoint.path_of(tmp_path / "resumed" / "checkpoints", specs)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        run_task(specs, data_dir, results.runs_dir(tmp_path / "resumed"), 64, checkpoint_every=60)
    refusals = [r.getMessage() for r in caplog.records if "restarts from the start" in r.getMessage()]
    assert len(refusals) == 1 and path.name in refusals[0] and says in refusals[0], (name, caplog.text)
    assert not marker.exists(), f"{name}: reading the checkpoint ran its code"
    assert every_number(tmp_path / "resumed") == straight  # from scratch, the same numbers


def test_a_checkpoint_holds_no_pickle_and_continues_bit_for_bit(task, tmp_path):
    specs, data_dir, straight, states = task
    state = states[len(states) // 2]
    assert b"pickle" not in state and state[:2] == b"PK"  # a zip of .npy files
    checkpoint.save_state(tmp_path / "resumed" / "checkpoints", specs, state)
    run_task(specs, data_dir, results.runs_dir(tmp_path / "resumed"), 64, checkpoint_every=60)
    assert every_number(tmp_path / "resumed") == straight


# ---------------------------------------------------------------- a run folder from someone else


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A finished TINY sweep (4 runs, one task each, in this process's loky pool)."""
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(TINY, [], tmp_path_factory.mktemp("tiny")), IN_PROCESS, progress=False
    )
    assert counts["finished"] == 4
    return sweep_dir


def damage(sweep_dir: Path) -> dict[str, str]:
    """Edit a copy of a sweep folder in each way a folder from someone else may be; {what: the file
    named by the line that must say it}."""
    runs = [d.name for d in results.run_dirs(sweep_dir)]
    journal = max((sweep_dir / "journal").glob("*.jsonl"), key=lambda p: p.stat().st_size)
    lines = journal.read_text().splitlines(keepends=True)
    # a journal line cut short (its writer died, or the disk filled, mid-line), another edited into garbage
    journal.write_text("".join(lines[:-2]) + "[1, 2, 3]\t[]\n" + lines[-1][: len(lines[-1]) // 2])
    (sweep_dir / "runs" / runs[0] / "metrics.json").write_text('{"status": "finished", "test_acc": 0.9')  # truncated
    config = sweep_dir / "runs" / runs[1] / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"axes": "edited"}))  # hand-edited
    (sweep_dir / "runs" / runs[2] / "history.csv").write_bytes(b'iteration,loss\n1,"0.5\n\x00\xff')
    for rid in runs[1:3]:  # newer than their journal lines: read again from their folders
        os.utime(sweep_dir / "runs" / rid / "metrics.json")
    return {
        "cut short": f"{journal}: its last line is cut short",
        "garbage line": f"{journal}: line {len(lines) - 1} is not a journal entry",
        "metrics.json": f"{sweep_dir / 'runs' / runs[0] / 'metrics.json'}: cannot be read as JSON",
        "config.json": f"{config}: lacks axes",
        "history.csv": f"{sweep_dir / 'runs' / runs[2] / 'history.csv'}: cannot be read as CSV",
    }


def test_every_reader_takes_a_damaged_file_as_its_runs_problem_and_resume_redoes_that_run(tiny, tmp_path, caplog):
    sweep_dir = tmp_path / "damaged"
    shutil.copytree(tiny, sweep_dir)
    said = damage(sweep_dir)
    with caplog.at_level(logging.WARNING):
        entries = results.read_journal(sweep_dir, histories=True)
        results.write_results(sweep_dir)
        histories = results.read_histories(sweep_dir)
    for what, line in said.items():
        assert line in caplog.text, what
    assert len(entries) == 1 and len(results.read_results(sweep_dir)) == 1  # the readable run goes on
    assert set(histories["run_id"]) == set(entries)
    found, _ = same_numbers.differences(tiny, sweep_dir)  # the comparison names the runs left out, and goes on
    assert len(found) == 3 and all("not in" in f for f in found), found
    logged = logged_to_mlflow(sweep_dir, tmp_path, caplog)  # what experiments.log does
    assert logged == 1 and caplog.text.count("that run is not logged") == 3, caplog.text
    caplog.clear()
    sweep.run(sweep.SweepRequest(TINY, [], tmp_path, resume=str(sweep_dir)), IN_PROCESS, progress=False)
    assert every_number(sweep_dir) == every_number(tiny)  # the damaged runs trained again, bit for bit
    assert len(results.read_results(sweep_dir)) == 4


def logged_to_mlflow(sweep_dir: Path, tmp_path: Path, caplog) -> int:
    """The runs of a folder logged to a fresh MLflow store (experiments.log's tracker.log_runs); how many."""
    from nnscratch.loggers.mlflow import MlflowLogger

    settings = {"name": "mlflow", "tracking_uri": f"sqlite:///{tmp_path / 'store.db'}", "experiment": None}
    tracker = MlflowLogger(settings | {"timeout": 30, "retries": 0})
    with caplog.at_level(logging.WARNING):
        logged = tracker.log_runs(sweep_dir)
    assert tracker.problem is None, tracker.problem
    return logged


def test_a_folder_whose_sweep_json_is_garbage_is_refused_in_one_line(tiny, tmp_path):
    from nnscratch.config.checks import ConfigError

    sweep_dir = tmp_path / "damaged"
    shutil.copytree(tiny, sweep_dir)
    (sweep_dir / "sweep.json").write_text('{"name": "tiny", "axes": [')
    with pytest.raises(ConfigError, match="sweep.json cannot be read"):
        sweep.run(sweep.SweepRequest(TINY, [], tmp_path, resume=str(sweep_dir)), IN_PROCESS, progress=False)


# ---------------------------------------------------------------- a full disk

# 8 runs of 100 iterations on 300 digits (64 inputs), evaluated every iteration: records of ~70 kB,
# the prepared data ~0.2 MB, the report ~2 MB
DISK = {
    "name": "disk",
    "axes": {
        "data": ["digits"],
        "data.subset": [300],
        "data.scaling": ["unit", "none"],
        "model": {"hidden": [[10], [16]]},
        "train": {"iterations": [100], "eval_every": [1]},
        "seed": [0, 1],
    },
}
SWEEP = [sys.executable, "-m", "experiments.sweep", "sweep=disk", "parallel.n_jobs=1", "parallel.stack_rows=0"]
SWEEP += ["adaptive.enabled=false"]
TMPFS = 4 << 20  # bytes


@pytest.fixture(scope="module")
def disk_conf(tmp_path_factory) -> Path:
    """A copy of conf/ with the DISK grid as conf/sweep/disk.yaml."""
    folder = tmp_path_factory.mktemp("disk") / "conf"
    shutil.copytree(CONF_DIR, folder)
    (folder / "sweep" / "disk.yaml").write_text(yaml.safe_dump(DISK, sort_keys=False))
    return folder


def used(paths) -> int:
    """Bytes a tmpfs gives these files and folders (whole pages)."""
    return sum(-(-p.stat().st_size // 4096) * 4096 if p.is_file() else 4096 for p in paths)


@pytest.fixture(scope="module")
def disk_straight(disk_conf) -> tuple[dict, int, int, int]:
    """(every_number of the DISK sweep run straight, the bytes of its records, of its report, of its
    prepared data), on the ordinary disk."""
    out = disk_conf.parent / "straight"
    done = subprocess.run([*SWEEP, f"out_root={out}", f"--config-dir={disk_conf}"], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (sweep_dir,) = (out / "disk").iterdir()
    report = [sweep_dir / "report.html", *(sweep_dir / "figures").rglob("*")]
    records = [p for p in sweep_dir.rglob("*") if p not in report and p.name != "report.html"]
    _, specs = sweep.plan(DISK, [], disk_conf)
    prepared = save_prepared(specs, disk_conf.parent / "prepared")
    return every_number(sweep_dir), used(records), used(report), used(next(iter(prepared.values())).rglob("*"))


def fill_and_resume(conf: Path, tmp: Path, free: int, *extra: str) -> tuple[subprocess.CompletedProcess, ...]:
    """In a private mount namespace: a tmpfs of TMPFS bytes with `free` of them left, the sweep's
    output in it; the sweep, the folder copied out as the full disk left it (tmp/full), the ballast
    removed, `resume=`, the folder copied out again (tmp/resumed). (the first sweep, the resume)."""
    mnt, argv = tmp / "mnt", [*SWEEP, *extra]
    mnt.mkdir()

    def run(*more: str) -> str:  # the sweep, its stderr and exit status into <tmp>/<step>.err and .rc
        *overrides, step = more
        command = f"{shlex.join(argv)} {' '.join(overrides)} --config-dir={conf} 2> {tmp}/{step}.err"
        return f"{command} && echo 0 > {tmp}/{step}.rc || echo $? > {tmp}/{step}.rc"

    script = f"""
        mount -t tmpfs -o size={TMPFS} tmpfs {mnt} || exit 99
        set -e
        head -c {TMPFS - free} /dev/zero > {mnt}/ballast
        {run(f"out_root={mnt}/out", "first")}
        cp -a {mnt}/out {tmp}/full
        rm {mnt}/ballast
        {run(f"out_root={mnt}/out", f'resume="$(echo {mnt}/out/disk/*)"', "resume")}
        cp -a {mnt}/out {tmp}/resumed
    """
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 99, f"no private tmpfs (run as root, with unshare): {done.stderr[-2000:]}"
    assert done.returncode == 0, done.stderr[-2000:] + "\n" + (tmp / "first.err").read_text()[-3000:]
    return tuple(
        subprocess.CompletedProcess(argv, int((tmp / f"{step}.rc").read_text()), "", (tmp / f"{step}.err").read_text())
        for step in ("first", "resume")
    )


def whole(sweep_dir: Path) -> list[str]:
    """Every record of a folder read back: no temporary or half-written file, each run folder's three
    files parse, each journal line is whole but perhaps the last; the ids of the runs on disk."""
    assert not [p for p in sweep_dir.rglob(".*") if p.name not in (".started", ".ended", ".busy", ".progress")]
    ids = []
    for d in results.run_dirs(sweep_dir):
        results.read_run(d), results.read_history_csv(d / "history.csv")
        ids.append(d.name)
    for journal in (sweep_dir / "journal").glob("*.jsonl"):
        lines = journal.read_text().split("\n")
        assert all(results.is_entry(json.loads(line.partition("\t")[0])) for line in lines[:-1]), journal
    return ids


def test_a_full_disk_stops_the_sweep_in_one_line_keeps_every_record_whole_and_resume_finishes_it(
    disk_conf, disk_straight, tmp_path
):
    straight, records, _, prepared = disk_straight
    first, resumed = fill_and_resume(disk_conf, tmp_path, prepared + records // 2, "report=false")
    assert first.returncode == 1, first.stderr[-3000:]
    (line,) = [x for x in first.stderr.splitlines() if x.startswith("error:")]
    (sweep_dir,) = (tmp_path / "full" / "disk").iterdir()
    assert f"/out/disk/{sweep_dir.name}: the disk is full" in line and "while writing its records" in line, line
    assert "MB free there" in line and "run(s) left need about" in line and "resume=" in line, line
    assert "Traceback" not in first.stderr, first.stderr[-3000:]
    on_disk = whole(sweep_dir)
    assert 0 < len(on_disk) < len(straight), "the disk did not fill mid-sweep: change the ballast"
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert every_number(tmp_path / "resumed" / "disk" / sweep_dir.name) == straight  # bit for bit


def test_a_full_disk_while_the_report_is_written_stops_in_one_line_and_resume_writes_it(
    disk_conf, disk_straight, tmp_path
):
    straight, records, report, prepared = disk_straight
    first, resumed = fill_and_resume(disk_conf, tmp_path, records + max(prepared, report // 3))
    assert first.returncode == 1, first.stderr[-3000:]
    (line,) = [x for x in first.stderr.splitlines() if x.startswith("error:")]
    (sweep_dir,) = (tmp_path / "full" / "disk").iterdir()
    assert f"/out/disk/{sweep_dir.name}: the disk is full" in line and "while writing the report" in line, line
    assert "Traceback" not in first.stderr, first.stderr[-3000:]
    assert len(whole(sweep_dir)) == len(straight)  # every run was recorded before the report
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (tmp_path / "resumed" / "disk" / sweep_dir.name / "report.html").stat().st_size > 0
    assert every_number(tmp_path / "resumed" / "disk" / sweep_dir.name) == straight


def test_tls_settings_without_their_files_are_refused_before_anything_is_written(tmp_path):
    from nnscratch.config.checks import ConfigError

    tls = {"ca_file": str(tmp_path / "ca.pem"), "cert_file": str(tmp_path / "cert.pem"), "key_file": "key.pem"}
    parallel = IN_PROCESS | {"backend": "dask", "tls": tls}
    with pytest.raises(ConfigError, match=r"parallel.tls.ca_file: no file .*ca.pem") as refused:
        sweep.run(sweep.SweepRequest(TINY, [], tmp_path / "out"), parallel, progress=False)
    assert "parallel.tls.key_file: no file 'key.pem'" in str(refused.value)
    with pytest.raises(ConfigError, match=r"parallel.tls: must be null or \{ca_file, cert_file, key_file\}"):
        sweep.run(sweep.SweepRequest(TINY, [], tmp_path / "out"), parallel | {"tls": {"ca": "x"}}, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_full_disk_under_a_dask_sweep_stops_it_in_one_line_and_resume_finishes_it(disk_conf, disk_straight, tmp_path):
    """The same on a real Dask cluster: this process writes the records the workers send back."""
    pytest.importorskip("distributed", reason="the dask extra is installed by .ci/run")
    from test_cluster import cluster

    straight, records, _, _ = disk_straight  # no prepared data on this disk: Dask ships it to the workers
    with cluster(tmp_path, workers=1) as c:
        on_dask = ("parallel=dask", f"parallel.scheduler={c.address}", "report=false")
        first, resumed = fill_and_resume(disk_conf, tmp_path, records // 2, *on_dask)
    assert first.returncode == 1, first.stderr[-3000:]
    (line,) = [x for x in first.stderr.splitlines() if x.startswith("error:")]
    (sweep_dir,) = (tmp_path / "full" / "disk").iterdir()
    assert "the disk is full" in line and "while writing its records" in line and "resume=" in line, line
    assert "Traceback" not in first.stderr, first.stderr[-3000:]
    assert 0 < len(whole(sweep_dir)) < len(straight), "the disk did not fill mid-sweep: change the ballast"
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert every_number(tmp_path / "resumed" / "disk" / sweep_dir.name) == straight  # bit for bit
