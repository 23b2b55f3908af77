"""nnscratch.loggers.process, in this process: the calls of a batch merged per sweep, the child's loop
(`serve`) with a stand-in tracker, and the client's side (`Elsewhere`) with a stand-in child: a child that
died is said once, its last line read as the problem. tests/test_loggers.py runs the real child."""

from __future__ import annotations

import io
import json
import logging
import queue
import signal
import subprocess
import threading

import pytest

from nnscratch.config.checks import ConfigError
from nnscratch.loggers import NoLogger, process
from nnscratch.loggers.process import Elsewhere, read_calls, runs_by_sweep, serve, started


def test_a_batchs_folders_are_merged_per_sweep_and_all_of_them_wins():
    batch = [
        {"sweep_dir": "/a", "folders": ["r1"]},
        {"sweep_dir": "/b", "folders": None},
        {"sweep_dir": "/a", "folders": ["r2", "r3"]},
        {"sweep_dir": "/b", "folders": ["r9"]},
        {"sweep_dir": "/a", "report_dir": "/a/report"},  # not a call to log runs
        None,  # the input ended
    ]
    assert runs_by_sweep(batch) == {"/a": ["r1", "r2", "r3"], "/b": None}
    assert runs_by_sweep([{"sweep_dir": "/c", "folders": ["x"]}, {"sweep_dir": "/c", "folders": None}]) == {"/c": None}


def test_each_line_is_a_call_and_the_end_of_input_is_none():
    calls: queue.Queue = queue.Queue()
    read_calls(io.StringIO('{"sweep_dir": "/a", "folders": ["r1"]}\n{"sweep_dir": "/a", "folders": null}\n'), calls)
    assert [calls.get_nowait() for _ in range(3)] == [
        {"sweep_dir": "/a", "folders": ["r1"]},
        {"sweep_dir": "/a", "folders": None},
        None,
    ]


class Tracker:
    """A logger that records what it was asked, in order."""

    def __init__(self):
        self.asked, self.problem = [], "the store is read-only"

    def warm(self):
        self.asked.append(("warm",))

    def log_runs(self, sweep_dir, folders=None):
        self.asked.append(("runs", str(sweep_dir), folders))
        return 0

    def log_report(self, sweep_dir, report_dir):
        self.asked.append(("report", str(sweep_dir), str(report_dir)))


def test_the_child_warms_its_tracker_logs_every_call_then_says_its_problem(monkeypatch):
    tracker = Tracker()
    monkeypatch.setattr(process, "make_logger", lambda settings: tracker)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # serve ignores Ctrl-C: not this process's
    lines = [
        {"sweep_dir": "/a", "folders": ["r1"]},
        {"sweep_dir": "/a", "folders": ["r2"]},
        {"sweep_dir": "/a", "report_dir": "/a/report"},
    ]
    said = io.StringIO()
    serve({"name": "stand-in"}, io.StringIO("".join(json.dumps(c) + "\n" for c in lines)), said)
    assert tracker.asked[0] == ("warm",) and tracker.asked[-1] == ("report", "/a", "/a/report")
    logged = [f for a in tracker.asked if a[0] == "runs" for f in a[2]]  # in one call or two, as the lines came
    assert logged == ["r1", "r2"]
    assert json.loads(said.getvalue().splitlines()[-1]) == {"problem": "the store is read-only"}


def test_no_logger_starts_no_process():
    for settings in (None, {"name": "none"}):
        with started(settings) as tracker:
            assert isinstance(tracker, NoLogger)


def test_an_unknown_logger_is_refused_before_anything_starts(monkeypatch):
    monkeypatch.setattr(process, "Elsewhere", lambda settings: pytest.fail("a child was started"))
    with pytest.raises(ConfigError, match="logger=wandb: unknown logger"), started({"name": "wandb"}):
        pass


class Pipe:
    """A child's stdin: writes kept, or BrokenPipeError once the child is gone."""

    def __init__(self, gone: bool = False):
        self.gone, self.lines = gone, []

    def write(self, text):
        if self.gone:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines.append(text)

    def flush(self):
        pass


class Child:
    """The part of a Popen that Elsewhere uses: `says` is its stdout, `code` its exit code (None: running)."""

    def __init__(self, says="", code=None, hangs=False, gone=False):
        self.stdin, self.says, self.returncode, self.hangs, self.killed = Pipe(gone), says, code, hangs, False

    def poll(self):
        return self.returncode

    def communicate(self, timeout):
        if self.hangs:
            raise subprocess.TimeoutExpired("child", timeout)
        self.returncode = 0 if self.returncode is None else self.returncode
        return self.says, ""

    def kill(self):
        self.killed, self.returncode = True, -9

    def wait(self):
        return self.returncode


def elsewhere(child: Child) -> Elsewhere:
    """An Elsewhere talking to `child` (its __init__ would start a real one)."""
    tracker = Elsewhere.__new__(Elsewhere)
    tracker.child, tracker.problem = child, None
    tracker.lock = threading.Lock()
    return tracker


def test_calls_are_one_json_line_each_with_absolute_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracker = elsewhere(Child())
    assert tracker.log_runs("sweep", ["r1"]) == 0
    tracker.log_runs("sweep")
    tracker.log_report("sweep", "sweep/report")
    assert [json.loads(line) for line in tracker.child.stdin.lines] == [
        {"sweep_dir": str(tmp_path / "sweep"), "folders": ["r1"]},
        {"sweep_dir": str(tmp_path / "sweep"), "folders": None},
        {"sweep_dir": str(tmp_path / "sweep"), "report_dir": str(tmp_path / "sweep" / "report")},
    ]


def test_a_child_that_died_is_said_once_and_asked_nothing_more(caplog):
    tracker = elsewhere(Child(code=1, gone=True))
    with caplog.at_level(logging.WARNING, logger=process.__name__):
        tracker.log_runs("/a", ["r1"])
        tracker.log_runs("/a", ["r2"])
    assert tracker.problem == "the logging process ended (exit code 1)"
    assert len(caplog.records) == 1 and "python -m experiments.log" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "says, code, problem",
    [
        ('mlflow: 3 runs logged\n{"problem": null}\n', None, None),
        ('{"problem": "the tracker is down"}\n', None, "the tracker is down"),
        ("", 1, "the logging process ended (exit code 1) before it was done"),
    ],
)
def test_the_childs_last_line_is_its_problem(says, code, problem):
    tracker = elsewhere(Child(says, code))
    tracker.close(wait=1)
    assert tracker.problem == problem


def test_a_child_still_logging_at_the_deadline_is_ended(caplog):
    tracker = elsewhere(Child(hangs=True))
    with caplog.at_level(logging.WARNING, logger=process.__name__):
        tracker.close(wait=2)
    assert tracker.child.killed and "gave up waiting after 2 s" in caplog.records[0].getMessage()


def test_a_block_ended_by_an_exception_ends_the_child_at_once(monkeypatch):
    child = Child()
    monkeypatch.setattr(process, "Elsewhere", lambda settings: elsewhere(child))
    monkeypatch.setattr(process, "check_logger", lambda settings: None)
    with pytest.raises(KeyboardInterrupt), started({"name": "mlflow"}):
        raise KeyboardInterrupt
    assert child.killed


def test_a_block_that_ends_lets_the_child_finish_and_reads_its_problem(monkeypatch):
    child = Child('{"problem": "2 runs could not be read"}\n')
    monkeypatch.setattr(process, "Elsewhere", lambda settings: elsewhere(child))
    monkeypatch.setattr(process, "check_logger", lambda settings: None)
    with started({"name": "mlflow"}, wait=1) as tracker:
        tracker.log_runs("/a")
    assert not child.killed and tracker.problem == "2 runs could not be read"
