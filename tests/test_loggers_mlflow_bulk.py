"""nnscratch.loggers.mlflow.bulk, with a stand-in logger and the pool run inline (no MLflow, no process): the
folder split in chunks, each chunk's ids recorded as it ends, a failure reported once after every chunk."""

from __future__ import annotations

import concurrent.futures
import logging
from concurrent.futures import Future

import pytest

from nnscratch import results
from nnscratch.loggers.mlflow import bulk


class Worker:
    """What a bulk worker asks of its MlflowLogger: a run logged (its id, None: nothing to log, or a raise)."""

    made: list[Worker] = []

    def __init__(self, settings: dict):
        Worker.made.append(self)
        self.settings, self.experiment, self.experiments = settings, settings.get("experiment"), {}
        self.bulk_workers, self.recorded = settings["bulk_workers"], []

    def log_readable(self, sweep_dir, run_dir, written):
        if run_dir.name.startswith("bad"):
            raise ValueError(f"  {run_dir.name} cannot be read" + "!" * 400)
        return None if run_dir.name.startswith("skip") else f"id-{run_dir.name}@{written}"

    def experiment_id(self, sweep_dir):
        return "exp-7"

    def record_ids(self, sweep_dir, ids):
        self.recorded.append(ids)


class Inline:
    """ProcessPoolExecutor's part that log_in_processes uses, each task run at submit, in order."""

    def __init__(self, workers, mp_context=None):
        self.workers = workers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        done = Future()
        done.set_result(fn(*args))
        return done


@pytest.fixture
def sweep_dir(tmp_path):
    results.write_json(tmp_path / "sweep.json", {"name": "grid", "axes": []})
    return tmp_path


@pytest.fixture(autouse=True)
def inline_pool(monkeypatch):
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Inline)
    monkeypatch.setattr(Worker, "made", [])


def test_a_chunk_logs_each_folder_under_the_parents_experiment(sweep_dir):
    chunk = {"r1": "w1", "skip2": "w2", "r3": "w3"}
    ids, problem = bulk.log_chunk(Worker, {"bulk_workers": 1}, sweep_dir, "exp-7", chunk)
    assert ids == {"r1": ("id-r1@w1", "w1"), "r3": ("id-r3@w3", "w3")} and problem is None
    assert Worker.made[-1].experiments == {"grid": "exp-7"}  # the sweep's experiment, not looked up again


def test_a_chunk_stops_at_a_failure_and_keeps_the_ids_logged_before_it(sweep_dir):
    chunk = {"r1": "w1", "bad2": "w2", "r3": "w3"}
    ids, problem = bulk.log_chunk(Worker, {"bulk_workers": 1}, sweep_dir, "exp-7", chunk)
    assert ids == {"r1": ("id-r1@w1", "w1")}
    assert problem.startswith("ValueError: bad2 cannot be read!") and len(problem) == len("ValueError: ") + 300


def test_a_folder_is_logged_in_chunks_each_recorded_as_it_ends(sweep_dir, monkeypatch, caplog):
    monkeypatch.setattr(bulk, "BULK_CHUNK", 2)
    monkeypatch.setattr(bulk, "PROGRESS", 5)
    parent = Worker({"bulk_workers": 2, "experiment": None})
    todo = {f"r{i}": f"w{i}" for i in range(5)}
    with caplog.at_level(logging.INFO, logger=bulk.__name__):
        assert bulk.log_in_processes(parent, sweep_dir, todo) == 5
    assert sorted(list(ids) for ids in parent.recorded) == [["r0", "r1"], ["r2", "r3"], ["r4"]]  # any order
    assert all(w.settings["bulk_workers"] == 1 for w in Worker.made[1:])  # a worker does not split its chunk again
    assert [r.getMessage() for r in caplog.records] == [
        "mlflow: 5 of 5 runs logged in 0 s"
    ]  # one line per PROGRESS runs


def test_a_failed_chunk_is_raised_once_after_every_chunks_ids_are_recorded(sweep_dir, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_CHUNK", 2)
    parent = Worker({"bulk_workers": 2, "experiment": None})
    todo = {"r0": "w", "bad1": "w", "r2": "w", "r3": "w"}
    with pytest.raises(RuntimeError, match="^ValueError: bad1 cannot be read"):
        bulk.log_in_processes(parent, sweep_dir, todo)
    assert sorted(list(ids) for ids in parent.recorded) == [["r0"], ["r2", "r3"]]
