"""A logger run by a process of its own, so that a sweep's client never waits on a tracker and never
takes turns with one: MLflow's import costs about 2 s of CPU and each run logged 45 ms, which in a
thread of the client took turns with the client's own work (Python's GIL: one thread runs at a time).

    with started(settings) as tracker:      # settings: conf/logger/<name>.yaml as a dict
        sweep.run(..., logger=tracker)      # each call returns at once
        tracker.log_report(sweep_dir, report_dir)

The child, `python -m nnscratch.loggers.process '<settings as JSON>'`, starts with the block: it
imports its tracker and opens the store while the client is still planning and its workers starting
(a core the client leaves idle then), and logs each run as its record comes, at the workers' priority
(a lower one after the import, nice 10 or 19, was slower: the logging then waited for the workers to
end, docs/mlflow.md). Each call is one JSON line on the child's stdin, read as it comes (a
thread), so the client's writes never wait; the child logs each sweep's waiting folders in one call.
When the block ends the child is told (its stdin closed), logs what is left (at most `wait` s), says
{"problem": ...} on its stdout and ends without its tracker's teardown (everything is committed by
then). A block ended by an exception (a stop) ends the child at once: the records are on disk, and a
resume or `python -m experiments.log` logs what it had not. A child that dies (its parent gone: its
stdin ends) logs what it has and ends too.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from nnscratch.loggers import Logger, NoLogger, check_logger, make_logger

log = logging.getLogger(__name__)
WAIT = 300.0  # s the end of a block waits for what is still to log


@contextmanager
def started(settings: dict | None, wait: float = WAIT) -> Iterator[Logger]:
    """The logger `settings` asks for, in a process of its own until the block ends (logger=none: NoLogger,
    no process). ConfigError (unknown logger, missing package) before anything starts."""
    check_logger(settings)
    if (settings or {}).get("name", "none") == "none":
        yield NoLogger()
        return
    tracker = Elsewhere(settings)
    try:
        yield tracker
    except BaseException:
        tracker.end()
        raise
    tracker.close(wait)


class Elsewhere:
    """A Logger whose calls are made by a child process (module docstring); they return at once."""

    def __init__(self, settings: dict):
        argv = [sys.executable, "-m", __name__, json.dumps(settings)]
        self.child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.problem: str | None = None  # why logging stopped, once the child said so (or died)
        self.lock = threading.Lock()  # records may come from more than one of the client's threads

    def log_runs(self, sweep_dir: Path, folders: Iterable[str] | None = None) -> int:
        """Have the child log these run folders (None: all of the sweep's); 0 (none logged yet)."""
        self.send({"sweep_dir": str(Path(sweep_dir).resolve()), "folders": None if folders is None else list(folders)})
        return 0

    def log_report(self, sweep_dir: Path, report_dir: Path) -> None:
        """Have the child log the sweep's report folder."""
        self.send({"sweep_dir": str(Path(sweep_dir).resolve()), "report_dir": str(Path(report_dir).resolve())})

    def send(self, call: dict) -> None:
        if self.problem:
            return
        try:
            with self.lock:
                self.child.stdin.write(json.dumps(call) + "\n")
                self.child.stdin.flush()
        except (OSError, ValueError):  # the child is gone: what it did not log, experiments.log does later
            self.problem = f"the logging process ended (exit code {self.child.poll()})"
            log.warning("logger: %s; going on without it. Log the sweep later: python -m experiments.log", self.problem)

    def close(self, wait: float = WAIT) -> None:
        """Let the child log what is queued (at most `wait` s), then end it; `problem` says what it met."""
        try:
            said, _ = self.child.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            log.warning(
                "logger: gave up waiting after %.0f s with runs still to log; log them with python -m experiments.log",
                wait,
            )
            self.end()
            return
        last = said.strip().splitlines()[-1:] if said else []
        ended = f"the logging process ended (exit code {self.child.returncode}) before it was done"
        self.problem = json.loads(last[0])["problem"] if last else self.problem or ended

    def end(self) -> None:
        """End the child now (a stop), without waiting for what it has not logged."""
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()


def serve(settings: dict, calls_in: IO[str], said: IO[str]) -> None:
    """The child: open the tracker, then log the calls read from `calls_in` until it ends; then write
    {"problem": ...} to `said`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the group is the client's: it ends this process
    calls: queue.Queue = queue.Queue()
    threading.Thread(target=read_calls, args=(calls_in, calls), daemon=True).start()
    tracker = make_logger(settings)
    getattr(tracker, "warm", lambda: None)()  # MLflow's import and store, while the client starts its sweep
    while True:
        batch = [calls.get()]
        while batch[-1] is not None and not calls.empty():
            batch.append(calls.get())
        for sweep_dir, folders in runs_by_sweep(batch).items():
            tracker.log_runs(Path(sweep_dir), folders)
        for call in (c for c in batch if c and "report_dir" in c):
            tracker.log_report(Path(call["sweep_dir"]), Path(call["report_dir"]))
        if batch[-1] is None:
            break
    said.write(json.dumps({"problem": tracker.problem}) + "\n")


def read_calls(calls_in: IO[str], calls: queue.Queue) -> None:
    """Each JSON line of `calls_in` onto `calls`, as it comes; then None (the input ended)."""
    for line in calls_in:
        calls.put(json.loads(line))
    calls.put(None)


def runs_by_sweep(batch: list[dict | None]) -> dict[str, list[str] | None]:
    """The run folders each sweep of a batch of calls asks to log, in one list (None: all of them)."""
    out: dict[str, list[str] | None] = {}
    for call in (c for c in batch if c and "folders" in c):
        had, folders = out.get(call["sweep_dir"], []), call["folders"]
        out[call["sweep_dir"]] = None if had is None or folders is None else had + folders
    return out


if __name__ == "__main__":
    logging.basicConfig(format="%(message)s", level=logging.INFO)
    for noisy in ("mlflow", "alembic", "urllib3"):  # their INFO lines (a new store's migrations) are not ours
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        serve(json.loads(sys.argv[1]), sys.stdin, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # the client is gone (killed): nobody to tell
        pass
    sys.stderr.flush()
    os._exit(0)  # everything is committed: skip the tracker's teardown (half a second of MLflow's)
