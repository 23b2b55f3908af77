"""A logger's calls made by a thread of their own, so that a sweep's client never waits on a tracker.

The sweep's client hands each record to `log_runs` as it is written; the thread logs it (together
with whatever else came meanwhile, in one call) while the runs go on; it also opens the tracker, so
the sweep's first runs start without waiting for it. `drain` waits for the queue to
empty at the end of the sweep, at most `timeout` seconds: what is left is logged later by
`python -m experiments.log` (the records are on disk whatever happens here).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from nnscratch.loggers import Logger

log = logging.getLogger(__name__)
ALL = None  # folders=None: every run of the sweep


class Background:
    """`logger`'s log_runs, called from one thread; the same methods, returning at once."""

    def __init__(self, logger: Logger):
        self.logger, self.todo = logger, queue.Queue()
        self.thread = threading.Thread(target=self.work, name="nnscratch-logger", daemon=True)
        self.thread.start()

    @property
    def problem(self) -> str | None:
        return self.logger.problem

    def log_runs(self, sweep_dir: Path, folders: Iterable[str] | None = None) -> int:
        """Queue these run folders (None: all of the sweep) for logging; 0 (none logged yet)."""
        self.todo.put((Path(sweep_dir), ALL if folders is None else list(folders)))
        return 0

    def work(self) -> None:
        """Open the tracker (a logger's `warm`, if it has one: MLflow's import and store, seconds of CPU)
        while the first runs train; then log what is queued, each sweep's waiting folders in one call,
        until told to stop (None)."""
        getattr(self.logger, "warm", lambda: None)()
        while True:
            item = self.todo.get()
            batch = [item]
            while item is not None and not self.todo.empty():
                batch.append(item := self.todo.get())
            by_sweep: dict[Path, list[str] | None] = {}
            for sweep_dir, folders in (b for b in batch if b is not None):
                had = by_sweep.get(sweep_dir, [])
                by_sweep[sweep_dir] = ALL if had is ALL or folders is ALL else had + folders
            for sweep_dir, folders in by_sweep.items():
                self.logger.log_runs(sweep_dir, folders)
            for _ in batch:
                self.todo.task_done()
            if batch[-1] is None:
                return

    def drain(self, timeout: float = 300.0) -> bool:
        """Wait until everything queued is logged (at most `timeout` s) and stop the thread; True if it was."""
        started = time.time()
        self.todo.put(None)
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.warning(
                "logger: gave up waiting after %.0f s with runs still to log; log them with python -m experiments.log",
                time.time() - started,
            )
        return not self.thread.is_alive()
