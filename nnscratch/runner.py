"""Run specs -> run records: one run in-process, or a whole sweep in parallel.

On joblib's loky pool (one machine), each worker task trains one run (or one stack of runs, see
nnscratch.train) and writes each record atomically before returning, so a result exists as soon as
its run ends, whatever happens to other workers. The training data is prepared once per sweep (one
.npy per distinct dataset/subset/scaling) and opened memory-mapped by every worker, so N workers
share one copy in the page cache instead of holding N. On a Dask cluster see nnscratch.cluster.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from nnscratch import data as datamod
from nnscratch import diagnose, results
from nnscratch.config import ConfigError, check
from nnscratch.train import REPORT_EVERY, Done, train_stack

log = logging.getLogger(__name__)
DATA_KEYS = ("name", "subset", "subset_method", "subset_seed", "scaling")
STACK_KEYS = ("lr", "iterations", "eval_every", "blas_threads", "collapse_margin", "skip_dead")


# ---------------------------------------------------------------- data, prepared once


def data_key(config: dict) -> str:
    """Runs with the same key train on the same arrays."""
    fields = {k: config["data"].get(k) for k in DATA_KEYS} | {"dtype": config["model"].get("dtype", "float32")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def prepare_with(ds: datamod.Dataset, config: dict) -> datamod.Prepared:
    """Subset and scale a loaded dataset as one run config asks."""
    d = config["data"]
    return datamod.prepare(
        ds,
        d["subset"],
        d["scaling"],
        d.get("subset_method", "first"),
        d.get("subset_seed", 0),
        config["model"].get("dtype", "float32"),
    )


def prepare_for(config: dict) -> datamod.Prepared:
    """Load and preprocess the data of one run config."""
    d = config["data"]
    return prepare_with(datamod.load(d["name"], d.get("dir"), d.get("mirrors")), config)


def prepared_by_key(specs: list[dict]) -> Iterator[tuple[str, datamod.Prepared]]:
    """(data key, prepared arrays) of each distinct data key the specs need; raw data is read once."""
    raw, seen = {}, set()
    for spec in specs:
        key, d = data_key(spec["config"]), spec["config"]["data"]
        if key in seen:
            continue
        seen.add(key)
        if d["name"] not in raw:
            raw[d["name"]] = datamod.load(d["name"], d.get("dir"), d.get("mirrors"))
        yield key, prepare_with(raw[d["name"]], spec["config"])


def save_prepared(specs: list[dict], folder: Path) -> dict[str, Path]:
    """Write the prepared arrays each distinct data key needs; {data_key: folder}."""
    out = {}
    for key, prepared in prepared_by_key(specs):
        out[key] = folder / key
        out[key].mkdir(parents=True, exist_ok=True)
        for field in ("X_train", "y_train", "X_test", "y_test"):
            np.save(out[key] / f"{field}.npy", getattr(prepared, field))
    return out


def open_prepared(folder: Path) -> datamod.Prepared:
    """The prepared arrays of one data key, memory-mapped read-only."""
    return datamod.Prepared(
        *(np.load(Path(folder) / f"{f}.npy", mmap_mode="r") for f in ("X_train", "y_train", "X_test", "y_test"))
    )


# ---------------------------------------------------------------- one run


def execute(
    specs: list[dict],
    data: datamod.Prepared,
    max_rows: int | None = None,
    report: Callable[[dict[str, Done]], None] | None = None,
) -> list[tuple[dict, list[dict]]]:
    """Train one spec, or several stacked: (metrics with status, history) each. Errors become
    failed records, not a raise. `report` gets {run_id: its progress} about every second while
    they train (nnscratch.train.Stack.progress)."""

    def by_run(done: list[Done]) -> None:
        report({s["run_id"]: d for s, d in zip(specs, done)})

    try:
        fault = specs[0]["config"].get("fault")
        if fault == "raise":
            raise RuntimeError("fault injected by config (fault=raise)")
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        done = train_stack([s["config"] for s in specs], data, max_rows, by_run if report else None)
        ran = {"status": "finished", "error": None, "stacked_with": len(specs), "worker": worker_name()}
        return [(with_diagnosis(ran | r.metrics, r.history, s["config"]), r.history) for s, r in zip(specs, done)]
    except Exception as err:  # a run's failure is a result of the sweep, not the end of it
        return [
            ({"status": "failed", "error": f"{type(err).__name__}: {err}", "worker": worker_name()}, []) for _ in specs
        ]


def with_diagnosis(metrics: dict, history: list[dict], config: dict) -> dict:
    """The metrics with the run's diagnosis columns (nnscratch.diagnose, conf/diagnoses.yaml)."""
    return metrics | diagnose.summary(diagnose.diagnose(history, metrics, config))


def worker_name() -> str:
    """host:pid of the process that ran a task."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_single(spec: dict, out_dir: Path) -> dict:
    """Validate, load data, train and write one run to `out_dir`; the metrics.

    Bad config raises ConfigError and bad data DataError before anything is written; so does a
    folder that already holds a run (it is never overwritten).
    """
    if (Path(out_dir) / "metrics.json").exists():
        raise ConfigError(f"{out_dir} already holds a run: give another out_dir= (or none: Hydra picks a new folder)")
    check(spec["config"])
    ((metrics, history),) = execute([spec], prepare_for(spec["config"]))
    results.write_run_files(Path(out_dir), spec, metrics, history)
    return metrics


def run_task(specs: list[dict], data_dir: Path, runs_root: Path, max_rows: int | None = None) -> list[dict]:
    """Worker entry: mark started, train (stacked if several), write each record; one summary per run.
    While it trains, the work done so far is in runs/.progress/<worker>.json (see watch_progress)."""
    started = [runs_root / ".started" / s["run_id"] for s in specs]
    started[0].parent.mkdir(parents=True, exist_ok=True)
    for path in started:
        path.touch()
    progress = runs_root / ".progress" / f"{worker_name()}.json"

    def report(done: dict[str, Done]) -> None:
        results.atomic_write_text(progress, json.dumps(done))

    summaries = []
    try:
        trained = execute(specs, open_prepared(data_dir), max_rows, report)
        for spec, (metrics, history), path in zip(specs, trained, started):
            summaries.append(results.record_run(runs_root.parent, spec, metrics, history))
            path.unlink(missing_ok=True)
    finally:
        progress.unlink(missing_ok=True)
    return summaries


@contextmanager
def watch_progress(folder: Path, bar: Progress, every: float = 1.0) -> Iterator[None]:
    """Feed `bar` the work done inside running tasks, read from the workers' progress files."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every):
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


def stackable(config: dict) -> bool:
    """Full-batch runs without fault injection can share a stack (a mini-batch run draws its own batches)."""
    return config["train"].get("batch_size") is None and config.get("fault") is None


def schedule_key(config: dict) -> tuple:
    """Runs stack together only when they train on the same schedule, activation and update rule."""
    rules = json.dumps([config.get("activation"), config.get("optimizer")], sort_keys=True)
    return tuple(config["train"].get(k) for k in STACK_KEYS) + (config["model"].get("dtype", "float32"), rules)


def passes(config: dict) -> float:
    """What a run reads through: samples x iterations."""
    return (config["data"]["subset"] or 60_000) * config["train"]["iterations"]


def cost(specs: list[dict]) -> float:
    """Relative work of a task: hidden units x samples x iterations."""
    return sum(sum(s["config"]["model"]["hidden"]) for s in specs) * passes(specs[0]["config"])


TASK_STACKS = 4  # at most this many stacks' worth of runs in a task: a record is written when its task ends


def group_key(config: dict) -> tuple:
    """Runs alike enough to stack, and to tell what each other will cost: same data and schedule."""
    return data_key(config), schedule_key(config)


def tasks(specs: list[dict], stack_rows: int, split: int = 1) -> list[list[dict]]:
    """Group runs into tasks, largest first: alone, or (stack_rows > 0) runs sharing data and schedule,
    trained at most `stack_rows` live first-layer units at a time (nnscratch.train.Stack admits the
    next as others finish or lose units). A group is dealt round-robin, widest first, into at least
    `split` tasks (so that workers share it) and tasks of at most TASK_STACKS x stack_rows units:
    every task gets a like mix of runs, so the workers finish together however many of the runs'
    units die. Among tasks of equal cost, each group's first comes before any group's second: the
    first tasks then sample every kind of run, which is what the progress bar's estimate learns from
    (Progress). The tasks depend on the runs and these settings only, never on the worker count:
    each row of a stacked product is computed from its own row of W1, but BLAS may round it
    differently with the product's shape (OpenBLAS does), so a run's last float32 bits depend on
    which runs share its stack."""
    groups: dict[tuple, list[dict]] = {}
    for s in specs:
        key = group_key(s["config"]) if stack_rows and stackable(s["config"]) else s["run_id"]
        groups.setdefault(key, []).append(s)
    out = []  # (cost, rank in its group, task)
    for group in groups.values():
        units = sum(s["config"]["model"]["hidden"][0] for s in group)
        n = max(split, -(-units // (TASK_STACKS * stack_rows))) if stack_rows else 1
        ordered = sorted(group, key=lambda s: (-s["config"]["model"]["hidden"][0], s["run_id"]))
        out += [(cost(ordered[i::n]), i, ordered[i::n]) for i in range(min(n, len(ordered)))]
    return [t for *_, t in sorted(out, key=lambda o: (-o[0], o[1]))]


# ---------------------------------------------------------------- a sweep


def plan_tasks(batches: list[list[dict]], stack_rows: int, split: int, done: set[str]) -> list[list[dict]]:
    """The tasks of the runs not `done`, largest first. Each batch (a grid, then each adaptive round)
    is planned apart and from all its runs, finished or not, so that a run's stack, and with it its
    last bits (see tasks), is the same whether its sweep ran straight through or was resumed."""
    planned = [t for batch in batches for t in tasks(batch, stack_rows, split)]
    return sorted(pending(planned, done), key=lambda t: -cost(t))  # stable: a batch keeps its order


def pending(planned: list[list[dict]], done: set[str]) -> list[list[dict]]:
    """The planned tasks without their `done` runs (a task left empty goes)."""
    return [left for t in planned if (left := [s for s in t if s["run_id"] not in done])]


def worker_count(n_jobs: int | None, specs: list[dict]) -> int:
    """Workers such that workers x BLAS threads per run <= cores."""
    cores = joblib.cpu_count()
    threads = max((s["config"]["train"]["blas_threads"] for s in specs), default=1)
    limit = max(1, cores // threads)
    if n_jobs is not None and n_jobs > limit:
        log.warning(
            "parallel.n_jobs=%d x %d BLAS threads exceeds %d cores: using %d workers", n_jobs, threads, cores, limit
        )
    return min(n_jobs or limit, limit)


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
    return ids


def stream(todo: list[list[dict]], paths: dict[str, Path], runs_root: Path, n_jobs: int, max_rows: int = 0):
    """Yield run summaries as their tasks finish (any order); joblib dispatches them a few at a time."""
    with parallel_config(backend="loky", n_jobs=n_jobs):
        for summaries in Parallel(return_as="generator_unordered")(
            delayed(run_task)(t, paths[data_key(t[0]["config"])], runs_root, max_rows or None) for t in todo
        ):
            yield from summaries


def record_death(spec: dict, runs_root: Path, strikes: int) -> None:
    metrics = {"status": "failed", "error": f"worker died while running it ({strikes} times, last one alone)"}
    results.record_run(runs_root.parent, spec, metrics, [])


def run_sweep(
    batches: list[list[dict]],
    sweep_dir: Path,
    n_jobs: int | None = None,
    backend: str = "loky",
    progress: bool = True,
    scheduler: str | None = None,
    stack_rows: int = 0,
    stack_tasks: int = 1,
) -> Counter:
    """Run every spec of `batches` (a grid, then each adaptive round) not yet finished in `sweep_dir`;
    returns counts by status/outcome.

    With stack_rows > 0, runs that share data and schedule train stacked (see nnscratch.train), each
    group in at least `stack_tasks` tasks (see tasks and plan_tasks).
    On loky, workers read the prepared data memory-mapped from the sweep folder and write their own
    records; on Dask (nnscratch.cluster) the data is shipped to the workers and the records come
    back to this process, so the workers need no shared disk.
    """
    since = time.time()
    runs_root = results.runs_dir(sweep_dir)
    in_flight(runs_root)  # leftovers of an interrupted sweep
    done = results.finished_ids(sweep_dir)
    specs = [s for batch in batches for s in batch]
    planned = plan_tasks(batches, stack_rows, stack_tasks, done)
    todo = [s for t in planned for s in t]
    counts = Counter()
    bar = Progress(specs, done, progress, Path(sweep_dir).parent.name, Path(sweep_dir) / "progress.csv")
    log.info("%d runs to do (%d already finished), backend %s", len(todo), len(specs) - len(todo), backend)
    try:
        with logging_redirect_tqdm():
            if backend == "dask":
                run_on_dask(planned, runs_root, n_jobs, scheduler, stack_rows, counts, bar)
            else:
                run_on_loky(planned, runs_root, worker_count(n_jobs, todo), stack_rows, counts, bar, since)
    finally:
        bar.close()
        entries = results.read_journal(sweep_dir)
        results.write_results(sweep_dir, entries)
    # counted from the records, not the stream: a dead pool loses the summaries of runs it had finished
    mine = [e for e in entries.values() if e["written"] >= since]
    return Counter(e["status"] for e in mine) + Counter(e["outcome"] for e in mine if e["status"] == "finished")


def run_on_loky(
    planned: list[list[dict]],
    runs_root: Path,
    workers: int,
    stack_rows: int,
    counts: Counter,
    bar: Progress,
    since: float,
) -> None:
    """Tasks on joblib's process pool. A worker that dies (SIGKILL, out of memory) aborts joblib's
    whole call: the runs it had in flight are retried alone, one at a time, and only a run that kills
    its worker again is recorded as failed; every other run goes on."""
    prep_dir, strikes = runs_root.parent / ".prepared", Counter()
    log.info("loky: %d workers", workers)
    try:
        paths = save_prepared([s for t in planned for s in t], prep_dir)
        with watch_progress(runs_root / ".progress", bar):
            while planned:
                try:
                    bar.plan([[s["run_id"] for s in t] for t in planned], workers)
                    for summary in stream(planned, paths, runs_root, workers, stack_rows):
                        tally(counts, summary, bar)
                    planned = []
                except Exception as err:
                    if not is_worker_death(err):
                        raise
                    planned = retry_after_death(planned, runs_root, strikes, paths, counts, bar, since)
    finally:
        shutil.rmtree(prep_dir, ignore_errors=True)


def run_on_dask(
    planned: list[list[dict]],
    runs_root: Path,
    n_jobs: int | None,
    scheduler: str | None,
    stack_rows: int,
    counts: Counter,
    bar: Progress,
) -> None:
    """Tasks on a Dask cluster (nnscratch.cluster); this process writes every record."""
    from nnscratch import cluster

    def write(spec: dict, metrics: dict, history: list[dict]) -> None:
        tally(counts, results.record_run(runs_root.parent, spec, metrics, history), bar)

    todo = [s for t in planned for s in t]
    if not todo:
        return
    with cluster.connect(scheduler, worker_count(n_jobs, todo)) as client:
        threads = cluster.cluster_threads(client)
        bar.plan([[s["run_id"] for s in t] for t in planned], threads)
        cluster.run_tasks(client, planned, dict(prepared_by_key(todo)), write, threads, stack_rows or None, bar.moving)


def retry_after_death(
    planned: list[list[dict]],
    runs_root: Path,
    strikes: Counter,
    paths: dict,
    counts: Counter,
    bar: Progress,
    since: float,
) -> list[list[dict]]:
    """Rerun alone each run that was in flight when a worker died; return the tasks still to do."""
    by_id = {s["run_id"]: s for t in planned for s in t}
    suspects = [by_id[r] for r in in_flight(runs_root) if r in by_id]
    log.warning("a worker died; retrying alone the %d run(s) it may have been running", len(suspects))
    for spec in suspects:
        strikes[spec["run_id"]] += 1
        try:
            (summary,) = stream([[spec]], paths, runs_root, 2)
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


def tally(counts: Counter, summary: dict, bar: Progress) -> None:
    """Count a finished or failed run by status and outcome, and advance the progress bar."""
    counts[summary["status"]] += 1
    if summary["status"] == "finished":
        counts[summary["outcome"]] += 1
    dead = summary.get("dead_l1")
    live_at_end = None if dead is None else 1.0 if np.isnan(dead) else 1.0 - dead  # NaN: units that cannot die
    bar.ended(summary["run_id"], counts["failed"], summary.get("live_fraction") or 1.0, live_at_end)


def add_evidence(pooled: dict[tuple, list[float]], group: tuple, evidence: list[float]) -> None:
    """Add a task's evidence (Progress.task_evidence) to its group's."""
    e = pooled.setdefault(group, [0.0] * len(evidence))
    for k, v in enumerate(evidence):
        e[k] += v


class Progress:
    """A progress bar whose ETA is the time the tasks left will take, not a count of runs (the largest
    tasks go first, so a count of runs would promise hours for a job of minutes).

    Runs that skip dead units do only part of their planned work (hidden units x samples x
    iterations), and runs that die early cost more seconds per unit of work (a few rows still read
    all of X). So the estimate learns both from the runs of each group (same data and schedule,
    group_key) seen so far: the share of units alive (a run counts once it has done STARTED of its
    iterations: units die fastest in the first ones) and the seconds per unit of work, counting a
    task's every pass over the data as PASS_UNITS units more than it computed. A task counts once its
    furthest run has done STARTED of its iterations (before, its start-up weighs too much). A running
    task's rest is its runs' remaining work at their share of units alive now (a dead unit stays
    dead) at the task's own rate so far (its group's until it counts). A task not started costs its
    planned work at its group's share, plus its passes, at its group's rate (all groups' if its own
    has none yet): a thin stack of a group not yet seen then costs more per unit than the thick ones
    seen. The ETA is when the workers would end if they took the waiting tasks in order, each the
    next free worker (`plan` gives the tasks and workers). `tasks` puts one task of each group
    first, so every group has evidence early.

    Running runs count as their tasks report (`moving`: about every second). The bar shows time:
    elapsed over elapsed + ETA. Every TRAIL_EVERY seconds, what it showed (elapsed, runs ended,
    share of the planned work done, ETA) is kept in `trail` and, with `record`, appended to that CSV
    at the end."""

    TRAIL_EVERY = 5.0  # seconds between the samples of `trail`
    STARTED = 0.02  # share of its iterations after which a run's share of units alive counts
    SHOW_EVERY = 0.5  # seconds between redraws
    # A stack's pass costs as if it had this many more live units: OpenBLAS packs all of X for each
    # product whatever its rows (14 rows' worth on the bench machine, bench.product_speed), and a pass
    # has per-model work besides (a lone 10-unit run on 5,000 images took 3.9 ms per iteration there:
    # 32 units' worth at the cost per unit of 256-row products). Replaying the default sweep's recorded
    # progress, 24 and 32 put its end right, 8 and 16 too early, 48 too late (README, Performance).
    PASS_UNITS = 24.0

    def __init__(
        self,
        specs: list[dict],
        done: set[str],
        enabled: bool,
        desc: str,
        record: Path | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.work = {s["run_id"]: cost([s]) for s in specs}
        self.configs = {s["run_id"]: s["config"] for s in specs}
        self.seen = {r for r in done if r in self.work}
        self.planned_all = sum(self.work.values())
        self.planned_done = sum(self.work[r] for r in self.seen)  # of the runs ended
        self.running: dict[str, Done] = {}
        self.ended_runs: dict[str, tuple[float, float | None]] = {}  # run: (share of work done, live at end)
        self.plan([], 1)  # the backend plans its tasks (`plan`) before any runs
        self.failed, self.record, self.trail, self.clock, self.shown = 0, record, [], clock, None
        self.started, self.lock = clock(), threading.Lock()
        self.bar = tqdm(
            total=None,
            disable=not enabled,
            desc=desc,
            dynamic_ncols=True,
            smoothing=0,  # tqdm's rate is then elapsed / elapsed: its "remaining" is our ETA
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
        )
        self.show()

    def plan(self, tasks: list[list[str]], workers: int) -> None:
        """The tasks (run ids each, in the order the workers take them) and how many run at once."""
        self.tasks, self.workers = [list(t) for t in tasks], max(1, workers)
        self.task_of = {r: i for i, t in enumerate(self.tasks) for r in t}
        self.task_group = [group_key(self.configs[t[0]]) for t in self.tasks]
        self.task_left = [sum(self.work[r] for r in t if r not in self.seen) for t in self.tasks]  # planned work
        self.task_passes = [self.PASS_UNITS * passes(self.configs[t[0]]) for t in self.tasks]
        self.runs_left = [sum(r not in self.seen for r in t) for t in self.tasks]
        self.task_start: dict[int, float] = {}
        self.closed: dict[tuple, list[float]] = {}  # per group, the evidence of its tasks that ended

    def ended(self, run_id: str, failed: int = 0, live_fraction: float = 1.0, live_at_end: float | None = None) -> None:
        """A run's record is written: it did `live_fraction` of its planned work, and ended with
        `live_at_end` of its units alive (None: unknown, e.g. it failed)."""
        with self.lock:
            self.failed = failed
            if run_id in self.work and run_id not in self.seen:
                self.seen.add(run_id)
                self.running.pop(run_id, None)
                self.ended_runs[run_id] = (live_fraction, live_at_end)
                self.planned_done += self.work[run_id]
                task = self.task_of.get(run_id)
                if task is not None:
                    self.task_left[task] -= self.work[run_id]
                    self.runs_left[task] -= 1
                    if not self.runs_left[task] and task in self.task_start:
                        add_evidence(self.closed, self.task_group[task], self.task_evidence(task, self.clock()))
            self.show()

    def moving(self, running: dict[str, Done]) -> None:
        """Runs still training: {run_id: (planned, actual, live)} as nnscratch.train.Stack.progress."""
        with self.lock:
            now = self.clock()
            for r, f in running.items():
                if r in self.work and r not in self.seen:
                    self.running[r] = tuple(f)
                    if r in self.task_of:  # its first report comes about REPORT_EVERY after its start
                        self.task_start.setdefault(self.task_of[r], now - REPORT_EVERY)
            self.show()

    def task_evidence(self, task: int, now: float, reach: float | None = None) -> list[float]:
        """What a started task tells of its group: [work weighing the live shares, work x live share,
        seconds, work computed and its passes' as far as its furthest run got (`reach`, if the caller
        has it: furthest)]."""
        reach = self.furthest(task) if reach is None else reach
        e = [0.0, 0.0, now - self.task_start[task], self.task_passes[task] * reach]
        for r in self.tasks[task]:
            w = self.work[r]
            if r in self.ended_runs:
                share, live = self.ended_runs[r]
                e[3] += w * share
                if live is not None:
                    e[0], e[1] = e[0] + w, e[1] + w * live
            elif r in self.running:
                planned, actual, live = self.running[r]
                e[3] += w * actual
                if planned >= self.STARTED:
                    e[0], e[1] = e[0] + w, e[1] + w * live
        return e

    def furthest(self, task: int) -> float:
        """The share of its iterations the task's furthest run has done."""
        return max(1.0 if r in self.ended_runs else self.running.get(r, (0.0,))[0] for r in self.tasks[task])

    def estimate(self, now: float | None = None) -> float:
        """Seconds until the last task ends (NaN until the tasks are planned and some work is timed)."""
        now = self.clock() if now is None else now
        if not self.tasks:
            return float("nan")
        running = [i for i in self.task_start if self.runs_left[i]]
        reach = {i: self.furthest(i) for i in running}
        timed = {i for i in running if reach[i] >= self.STARTED}  # before, its start-up weighs too much
        seen = {g: list(e) for g, e in self.closed.items()}
        for i in timed:
            add_evidence(seen, self.task_group[i], self.task_evidence(i, now, reach[i]))
        pooled = [sum(e[k] for e in seen.values()) for k in range(4)]

        def share(group: tuple) -> float:
            e = seen.get(group, pooled)
            e = e if e[0] else pooled
            return e[1] / e[0] if e[0] else 1.0

        def rate(group: tuple) -> float:
            e = seen.get(group, pooled)
            e = e if e[3] else pooled
            return e[2] / e[3] if e[3] else float("nan")

        free = []  # when each worker is free: after the rest of its running task
        for i in running:
            g, left = self.task_group[i], [r for r in self.tasks[i] if r not in self.seen]
            work = sum(
                self.work[r] * (1 - p) * (live if p >= self.STARTED else share(g))
                for r in left
                for p, _, live in [self.running.get(r, (0.0, 0.0, 1.0))]
            )
            computed = sum(self.work[r] * self.running[r][1] for r in left if r in self.running)
            if computed and i in timed:
                free.append(work * (now - self.task_start[i]) / computed)
            else:
                free.append((work + self.task_passes[i] * (1 - reach[i])) * rate(g))
        free += [0.0] * max(0, self.workers - len(free))
        heapq.heapify(free)
        for i, left in enumerate(self.task_left):  # each waiting task to the next free worker, in order
            if self.runs_left[i] and i not in self.task_start:
                g = self.task_group[i]
                heapq.heappush(free, heapq.heappop(free) + (left * share(g) + self.task_passes[i]) * rate(g))
        return max(free, default=0.0)

    def planned_share(self) -> float:
        """Share of the planned work (units x samples x iterations) done, ended runs and running ones."""
        done = self.planned_done + sum(self.work[r] * f[0] for r, f in self.running.items())
        return done / self.planned_all if self.planned_all else 1.0

    def show(self, force: bool = False) -> None:
        """Redraw the bar (at most every SHOW_EVERY seconds: a sweep of 100,000 runs ends 100,000 times)."""
        now = self.clock()
        if not force and self.shown is not None and now - self.shown < self.SHOW_EVERY:
            return
        self.shown, elapsed, eta = now, now - self.started, self.estimate(now)
        self.bar.n, self.bar.total = elapsed, (None if np.isnan(eta) else elapsed + eta)
        self.bar.set_postfix_str(f"{len(self.seen)}/{len(self.work)} runs, {self.failed} failed")
        if not self.trail or elapsed - self.trail[-1]["elapsed_s"] >= self.TRAIL_EVERY:
            done = self.planned_share()
            self.trail.append({"elapsed_s": elapsed, "runs": len(self.seen), "done": done, "eta_s": eta})

    def catch_up(self, ended: set[str]) -> None:
        for run_id in ended:
            self.ended(run_id, self.failed)

    def close(self) -> None:
        """Close the bar; append what it showed (every TRAIL_EVERY s, and the end) to `record`."""
        self.show(force=True)
        self.bar.close()
        if self.record is None or not self.trail:
            return
        started = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started))
        end = {"elapsed_s": self.clock() - self.started, "runs": len(self.seen), "done": 1.0, "eta_s": 0.0}
        rows = pd.DataFrame([*self.trail, end]).assign(session=started)
        rows.to_csv(self.record, mode="a", header=not self.record.exists(), index=False)
