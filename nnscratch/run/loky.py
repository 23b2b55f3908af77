"""A sweep's tasks on joblib's loky process pool (one machine): each worker trains its task and writes
each record atomically; a worker that dies has its runs retried alone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import psutil
from joblib import Parallel as Jobs
from joblib import delayed, parallel_config
from joblib.externals.loky import get_reusable_executor

from nnscratch import results
from nnscratch.run import stopping
from nnscratch.run.dispatch import Dispatch
from nnscratch.run.plan import cost, pending, worker_count
from nnscratch.run.prepared import data_key, save_prepared
from nnscratch.run.progress import Progress, tally
from nnscratch.run.task import run_task

log = logging.getLogger(__name__)


def collect_ended(folder: Path, counts: Counter, bar: Progress) -> None:
    """Count the runs whose workers wrote their records since the last look (runs/.ended/<run_id>.json,
    written by nnscratch.run.task.run_task as each run stops), and forget them."""
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        tally(counts, summary, bar)
        path.unlink(missing_ok=True)


@contextmanager
def watch_progress(folder: Path, bar: Progress, every: float = 1.0, counts: Counter | None = None) -> Iterator[None]:
    """Feed `bar` the work done inside running tasks, read from the workers' progress files, and
    (with `counts`) the runs that stopped inside them (collect_ended, from the folder beside it)."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every):
            if counts is not None:
                collect_ended(folder.parent / ".ended", counts, bar)
            moving = {}
            for path in folder.glob("*.json") if folder.is_dir() else []:
                try:
                    moving |= json.loads(path.read_text())
                except (OSError, ValueError):  # its task ended between listing and reading
                    continue
            bar.moving(moving)

    thread = threading.Thread(target=poll, name="nnscratch-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if counts is not None:  # the runs that stopped since its last look (an interrupt comes any time)
            collect_ended(folder.parent / ".ended", counts, bar)


DEATHS = ("TerminatedWorkerError", "KilledWorker", "BrokenProcessPool")


def is_worker_death(err: BaseException) -> bool:
    return type(err).__name__ in DEATHS


def in_flight(runs_root: Path) -> list[str]:
    """Runs a dead worker pool had started but not finished."""
    folder = runs_root / ".started"
    ids = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    for rid in ids:
        (folder / rid).unlink(missing_ok=True)
    shutil.rmtree(runs_root / ".progress", ignore_errors=True)  # what the dead pool's tasks had done
    shutil.rmtree(runs_root / ".ended", ignore_errors=True)  # their records are in the journal
    shutil.rmtree(runs_root / ".busy", ignore_errors=True)  # which of its workers held which task
    return ids


def save_checkpoints_now(runs_root: Path, wait: float = stopping.SAVE_WAIT) -> int:
    """At a stop, while the workers live: send SIGINT to each busy worker of this sweep (runs/.busy/<pid>)
    and wait, at most `wait` seconds, until each has saved its task's checkpoint (at the end of its
    iteration: nnscratch.run.task.saver) or ended its task; how many saved."""
    asked, folder = time.time(), runs_root / ".busy"
    mine = {p.pid for p in psutil.Process().children(recursive=True)}
    busy = {int(p.name): p.read_text() for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else {}
    busy = {pid: name for pid, name in busy.items() if pid in mine}
    for pid in busy:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)

    def saved(pid: int, name: str) -> bool:
        path = runs_root.parent / "checkpoints" / name
        return path.is_file() and path.stat().st_mtime >= asked

    deadline, left = time.monotonic() + wait, dict(busy)
    while left and time.monotonic() < deadline:
        left = {pid: n for pid, n in left.items() if (folder / str(pid)).exists() and not saved(pid, n)}
        time.sleep(0.02)
    n_saved = sum(saved(pid, n) for pid, n in busy.items())
    log.warning("stopping: %d of %d task(s) in flight saved their checkpoints", n_saved, len(busy))
    return n_saved


def pool(n_jobs: int, every: float = 0):
    """joblib's loky pool of `n_jobs` workers, each set up by stopping.start_worker before its first
    task (it watches its parent; with checkpoints, `every` > 0, it leaves the stop signals to the sweep)."""
    return parallel_config(backend="loky", n_jobs=n_jobs, initializer=stopping.start_worker, initargs=(every > 0,))


@dataclass(frozen=True)
class LokyPool:
    """How `stream` runs its tasks: on `workers` processes, stacks of at most `stack_rows` rows (0: no
    limit), each task checkpointed about every `checkpoint_every` seconds (0: never)."""

    workers: int = 2
    stack_rows: int = 0
    checkpoint_every: float = 0


def stream(todo: list[list[dict]], paths: dict[str, Path], runs_root: Path, settings: LokyPool):
    """Yield run summaries as their tasks finish (any order); joblib dispatches them a few at a time."""
    every = settings.checkpoint_every
    with pool(settings.workers, every):
        for summaries in Jobs(return_as="generator_unordered")(
            delayed(run_task)(t, paths[data_key(t[0]["config"])], runs_root, settings.stack_rows or None, every)
            for t in todo
        ):
            yield from summaries


def record_death(spec: dict, runs_root: Path, strikes: int) -> None:
    metrics = {"status": "failed", "error": f"worker died while running it ({strikes} times, last one alone)"}
    results.record_run(runs_root.parent, spec, metrics, [])


def retry_after_death(lost: Dispatch, workers: int, strikes: Counter, paths: dict, since: float) -> list[list[dict]]:
    """After a worker died, of `lost.planned` (the tasks it broke in flight): with checkpoints
    (parallel.checkpoint_every > 0), run the tasks in flight again whole on `workers` processes, each
    from its checkpoint; if a worker dies again (or without checkpoints), rerun alone each run still in
    flight. The tasks still to do."""
    planned, runs_root, counts, bar, parallel = lost.planned, lost.runs_root, lost.counts, lost.bar, lost.parallel
    whole = LokyPool(workers, parallel.stack_rows, parallel.checkpoint_every)
    by_id = {s["run_id"]: s for t in planned for s in t}
    gone = in_flight(runs_root)
    again = [t for t in planned if any(s["run_id"] in gone for s in t)] if parallel.checkpoint_every else []
    if again:
        log.warning("a worker died; its %d task(s) run again whole, from their checkpoints", len(again))
        try:
            for summary in stream(again, paths, runs_root, whole):
                tally(counts, summary, bar)
            gone = []
        except Exception as err:
            if not is_worker_death(err):
                raise
            gone = in_flight(runs_root)
    suspects = [by_id[r] for r in gone if r in by_id]
    log.warning("a worker died; retrying alone the %d run(s) it may have been running", len(suspects))
    for spec in suspects:
        strikes[spec["run_id"]] += 1
        try:
            (summary,) = stream([[spec]], paths, runs_root, LokyPool())
        except Exception as err:
            if not is_worker_death(err):
                raise
            in_flight(runs_root)
            record_death(spec, runs_root, strikes[spec["run_id"]] + 1)
            summary = {"run_id": spec["run_id"], "status": "failed", "outcome": None}
        tally(counts, summary, bar)
    ended = results.recorded_since(runs_root.parent, since)
    bar.catch_up(ended)  # runs that ended unreported
    return pending(planned, ended)


def executor(n_jobs: int, every: float = 0):
    """loky's reusable executor behind joblib's loky backend (the same workers, set up as `pool`'s), for
    tasks submitted while others run."""
    return get_reusable_executor(max_workers=n_jobs, initializer=stopping.start_worker, initargs=(every > 0,))


def run_on_loky(dispatch: Dispatch, since: float) -> None:
    """Tasks on loky's process pool (parallel.n_jobs workers), each checkpointed about every
    parallel.checkpoint_every seconds; after each task, `dispatch.more()` gives the tasks to add
    (overlapped adaptive rounds: their data is among `dispatch.data_of`'s). A worker that dies (SIGKILL,
    out of memory) breaks the pool: the runs it had in flight are retried alone, one at a time, and only
    a run that kills its worker again is recorded as failed (runs recorded since `since` count as
    ended); every other run goes on."""
    parallel, runs_root, bar, more = dispatch.parallel, dispatch.runs_root, dispatch.bar, dispatch.more
    prep_dir, strikes = runs_root.parent / ".prepared", Counter()
    every = parallel.checkpoint_every
    data_of = dispatch.data_specs()
    workers = worker_count(parallel.n_jobs, data_of)
    log.info("loky: %d workers", workers)
    queue, running = list(dispatch.planned), {}
    try:
        paths = save_prepared(data_of, prep_dir)
        at_stop = partial(save_checkpoints_now, runs_root) if every else lambda: None
        with watch_progress(runs_root / ".progress", bar, counts=dispatch.counts), stopping.before_stopping(at_stop):
            bar.plan([[s["run_id"] for s in t] for t in queue], workers)
            added = more() if more else []  # a resumed sweep's rounds may be due at once
            while queue or running or added:
                if added:
                    bar.add(added)
                    queue = sorted(queue + added, key=lambda t: -cost(t))  # stable: largest first, as planned
                while queue and len(running) < workers + 1:  # one queued: a freed worker starts at once
                    task = queue.pop(0)
                    args = (task, paths[data_key(task[0]["config"])], runs_root, parallel.stack_rows or None, every)
                    running[executor(workers, every).submit(run_task, *args)] = task
                ended, _ = wait(running, return_when=FIRST_COMPLETED)
                try:
                    for future in ended:
                        task = running.pop(future)
                        for summary in future.result():
                            tally(dispatch.counts, summary, bar)
                except Exception as err:
                    if not is_worker_death(err):
                        raise
                    lost, running = [task, *running.values()], {}  # a dead worker breaks every future of the pool
                    queue[:0] = retry_after_death(replace(dispatch, planned=lost), workers, strikes, paths, since)
                added = more() if more else []
    finally:
        shutil.rmtree(prep_dir, ignore_errors=True)
