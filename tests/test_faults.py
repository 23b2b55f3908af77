"""Faults users meet: a folder from someone else (edited, cut short, a crafted checkpoint), a full
disk, an open cluster port. Real MNIST at small size, real files; see docs/durability.md, "Faults"."""

import hashlib
import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from nnscratch import results
from nnscratch.perf import same_numbers
from nnscratch.perf.stops_grid import every_number
from nnscratch.run import checkpoint, sweep
from nnscratch.run.prepared import data_key, open_prepared, save_prepared
from nnscratch.run.task import run_task
from nnscratch.train import train_stack
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
IN_PROCESS = {"backend": "loky", "n_jobs": 1, "scheduler": None, "stack_rows": 0, "stack_tasks": 1}


# ---------------------------------------------------------------- a checkpoint from someone else


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> tuple[list[dict], Path, dict]:
    """The QUEUED task's specs, its prepared data, and every_number of it run straight."""
    tmp = tmp_path_factory.mktemp("task")
    _, specs = sweep.plan(QUEUED, [])
    data_dir = save_prepared(specs, tmp / "prepared")[data_key(specs[0]["config"])]
    run_task(specs, data_dir, results.runs_dir(tmp / "straight"), 64)
    return specs, data_dir, every_number(tmp / "straight")


def states_of(specs: list[dict], data_dir: Path) -> list[bytes]:
    """The task's state after every iteration."""
    states = []
    train_stack([s["config"] for s in specs], open_prepared(data_dir), 64, checkpoint=(0.0, states.append))
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
    specs, data_dir, straight = task
    states = states_of(specs, data_dir)
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
    specs, data_dir, straight = task
    states = states_of(specs, data_dir)
    state = states[len(states) // 2]
    assert b"pickle" not in state and state[:2] == b"PK"  # a zip of .npy files
    checkpoint.save(tmp_path / "resumed" / "checkpoints", specs, state)
    run_task(specs, data_dir, results.runs_dir(tmp_path / "resumed"), 64, checkpoint_every=60)
    assert every_number(tmp_path / "resumed") == straight


# ---------------------------------------------------------------- a run folder from someone else


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A finished TINY sweep (4 runs, one task each, in this process's loky pool)."""
    sweep_dir, counts = sweep.run(TINY, IN_PROCESS, [], tmp_path_factory.mktemp("tiny"), progress=False)
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
    caplog.clear()
    sweep.run(TINY, IN_PROCESS, [], tmp_path, resume=str(sweep_dir), progress=False)
    assert every_number(sweep_dir) == every_number(tiny)  # the damaged runs trained again, bit for bit
    assert len(results.read_results(sweep_dir)) == 4


def test_a_folder_whose_sweep_json_is_garbage_is_refused_in_one_line(tiny, tmp_path):
    from nnscratch.config.checks import ConfigError

    sweep_dir = tmp_path / "damaged"
    shutil.copytree(tiny, sweep_dir)
    (sweep_dir / "sweep.json").write_text('{"name": "tiny", "axes": [')
    with pytest.raises(ConfigError, match="sweep.json cannot be read"):
        sweep.run(TINY, IN_PROCESS, [], tmp_path, resume=str(sweep_dir), progress=False)
