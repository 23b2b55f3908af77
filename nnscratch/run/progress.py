"""What a sweep shows while it runs: a progress bar whose ETA is the time the tasks left will take,
a plain line every PLAIN_EVERY seconds instead when stderr is no terminal, and the trail of what it
showed (progress.csv).
"""

from __future__ import annotations

import heapq
import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from nnscratch.run.plan import cost, group_key, samples_read
from nnscratch.train.stack import REPORT_EVERY, RunProgress

log = logging.getLogger(__name__)

EVENTS = "progress_events.jsonl"  # beside progress.csv: what each session's bar was told (Progress.note)


@dataclass
class Evidence:
    """What started tasks tell of their group: work whose share of units alive is known (`weighed`)
    and that work times its share alive (`alive`); seconds spent, and the work computed in them, its
    passes over the data included (`computed`)."""

    weighed: float = 0.0
    alive: float = 0.0
    seconds: float = 0.0
    computed: float = 0.0

    def __add__(self, other: Evidence) -> Evidence:
        return Evidence(*(a + b for a, b in zip(astuple(self), astuple(other))))


def add_evidence(pooled: dict[tuple, Evidence], group: tuple, evidence: Evidence) -> None:
    """Add a task's evidence (Progress.task_evidence) to its group's."""
    pooled[group] = pooled.get(group, Evidence()) + evidence


def clock_text(seconds: float) -> str:
    """Seconds as [h:]mm:ss, as tqdm shows them."""
    return tqdm.format_interval(max(0.0, seconds))


class GroupRates:
    """What the tasks timed so far say of each group: its share of units alive and its seconds per
    unit of work; a group not seen (or without that evidence) gets all groups' pooled figure."""

    def __init__(self, seen: dict[tuple, Evidence]):
        self.seen, self.pooled = seen, sum(seen.values(), Evidence())

    def share(self, group: tuple) -> float:
        e = self.seen.get(group, self.pooled)
        e = e if e.weighed else self.pooled
        return e.alive / e.weighed if e.weighed else 1.0

    def rate(self, group: tuple) -> float:
        e = self.seen.get(group, self.pooled)
        e = e if e.computed else self.pooled
        return e.seconds / e.computed if e.computed else float("nan")


def shown_fraction(before: float, elapsed: float, eta: float) -> float:
    """The share of the time the bar shows: elapsed / (elapsed + ETA), but never less than it showed `before`
    (an ETA that grows when a slower group starts must not move the bar back; the ETA beside it says so)."""
    if np.isnan(eta) or elapsed + eta <= 0:
        return before
    return max(before, min(1.0, elapsed / (elapsed + eta)))


@dataclass(frozen=True)
class Display:
    """How a Progress shows itself: at all (`enabled`), under which label (`desc`), where the trail of what
    it showed is appended at the end (`record`, a CSV, or None), and whether stderr is a terminal (`tty`;
    None: ask it)."""

    enabled: bool
    desc: str
    record: Path | None = None
    tty: bool | None = None


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
    next free worker (`plan` gives the tasks and workers, `add` those planned while it runs), and then
    the adaptive seeds foreseen but not yet planned (`foresee`): one bar for the grid and its rounds.
    `tasks` puts one task of each group first, so every group has evidence early.

    Running runs count as their tasks report (`moving`: about every second). The bar shows time:
    elapsed over elapsed + ETA. Every TRAIL_EVERY seconds, what it showed (elapsed, runs ended,
    share of the planned work done, ETA, tasks training) is kept in `trail` and, with `record`, appended to that CSV
    at the end."""

    TRAIL_EVERY = 5.0  # seconds between the samples of `trail`
    STARTED = 0.02  # share of its iterations after which a run's share of units alive counts
    SHOW_EVERY = 0.5  # seconds between redraws
    PLAIN_EVERY = 30.0  # seconds between the plain lines written instead of a bar when stderr is no terminal
    # A stack's pass costs as if it had this many more live units: OpenBLAS packs all of X for each
    # product whatever its rows (14 rows' worth on the bench machine, perf.floors.product_speed), and a pass
    # has per-model work besides (a lone 10-unit run on 5,000 images took 3.9 ms per iteration there:
    # 32 units' worth at the cost per unit of 256-row products). Replaying the default sweep's recorded
    # progress, 24 and 32 put its end right, 8 and 16 too early, 48 too late (README, Performance).
    PASS_UNITS = 24.0
    MAX_EVENTS = 200_000  # what a session's bar was told, kept at most (the main job: 2,266 events, 1.6 MB)

    def __init__(
        self,
        specs: list[dict],
        done: set[str],
        display: Display,
        clock: Callable[[], float] = time.time,
        on_record: Callable[[str], None] | None = None,
    ):
        enabled, desc, record, tty = display.enabled, display.desc, display.record, display.tty
        self.work = {s["run_id"]: cost([s]) for s in specs}
        self.configs = {s["run_id"]: s["config"] for s in specs}
        self.seen = {r for r in done if r in self.work}
        self.planned_all = sum(self.work.values())
        self.planned_done = sum(self.work[r] for r in self.seen)  # of the runs ended
        self.running: dict[str, RunProgress] = {}
        self.ended_runs: dict[str, tuple[float, float | None]] = {}  # run: (share of work done, live at end)
        self.failed, self.record, self.trail, self.clock, self.shown = 0, record, [], clock, None
        self.started, self.lock, self.on_record = clock(), threading.Lock(), on_record
        # what it was told, as it was told (with `record`: progress_events.jsonl; benchmarks.eta_replay)
        self.events: list[list] | None = None if record is None else []
        self.kept = self.events  # what close() writes: the events, cut at MAX_EVENTS
        self.note("start", [sorted(self.work), sorted(self.seen)])
        self.plan([], 1)  # the backend plans its tasks (`plan`) before any runs
        self.foreseen: list[tuple[tuple, float, float]] = []  # (group, work, passes) of runs not planned yet
        # a log that is no terminal (CI, nohup, a file) gets a plain line every PLAIN_EVERY seconds
        # instead of the bar's carriage-return redraws
        self.plain = enabled and not (sys.stderr.isatty() if tty is None else tty)
        self.desc, self.said = desc, None
        self.bar = tqdm(
            total=None,
            disable=not enabled or self.plain,
            desc=desc,
            dynamic_ncols=True,
            smoothing=0,  # tqdm's rate is then elapsed / elapsed: its "remaining" is our ETA
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed{postfix}",
        )
        self.fraction = 0.0  # the share the bar shows: elapsed / (elapsed + ETA), never less than shown before
        self.show()

    def note(self, kind: str, payload) -> None:
        """Keep one thing the bar was told (seconds since its start, what, its arguments), with `record`; past
        MAX_EVENTS, only that the rest was not kept (a replay stops there)."""
        if self.events is not None and len(self.events) < self.MAX_EVENTS:
            self.events.append([self.clock() - self.started, kind, payload])
        elif self.events is not None:
            self.events.append([self.clock() - self.started, "not kept", None])
            self.events = None

    def plan(self, tasks: list[list[str]], workers: int) -> None:
        """The tasks (run ids each, in the order the workers take them) and how many run at once."""
        self.note("plan", [tasks, workers])
        self.workers = max(1, workers)
        self.tasks: list[list[str]] = []
        self.task_of: dict[str, int] = {}
        self.task_group, self.task_left, self.task_passes, self.runs_left = [], [], [], []
        self.task_start: dict[int, float] = {}
        self.closed: dict[tuple, Evidence] = {}  # per group, the evidence of its tasks that ended
        for ids in tasks:
            self.append_task(list(ids))

    def append_task(self, ids: list[str]) -> None:
        """One more task (its run ids), after those planned so far: its group, planned work left, passes over
        the data and runs left."""
        self.task_of |= dict.fromkeys(ids, len(self.tasks))
        self.tasks.append(ids)
        self.task_group.append(group_key(self.configs[ids[0]]))
        self.task_left.append(sum(self.work[r] for r in ids if r not in self.seen))  # planned work
        self.task_passes.append(self.PASS_UNITS * samples_read(self.configs[ids[0]]))
        self.runs_left.append(sum(r not in self.seen for r in ids))

    def add(self, tasks: list[list[dict]]) -> None:
        """Tasks planned while the sweep runs (overlapped adaptive rounds: nnscratch.run.overlap), after
        those planned so far; their runs' work joins the bar's."""
        with self.lock:
            self.note("add", [[s["run_id"] for s in task] for task in tasks])
            for task in tasks:
                for s in task:
                    if s["run_id"] not in self.work:
                        self.work[s["run_id"]], self.configs[s["run_id"]] = cost([s]), s["config"]
                        self.planned_all += self.work[s["run_id"]]
                self.append_task([s["run_id"] for s in task])

    def foresee(self, runs: list[tuple[dict, float, float]]) -> None:
        """Runs expected but not planned yet (adaptive seeds to come: nnscratch.run.overlap's forecast), as
        (a spec of their cell, how many, in how many rounds): the ETA counts each cell's as one more waiting
        task at the end, its runs' work and, per round, a task's passes over the data."""
        with self.lock:
            self.note("foresee", [[s["run_id"], float(n), float(k)] for s, n, k in runs])
            self.foreseen = [
                (group_key(s["config"]), n * cost([s]), k * self.PASS_UNITS * samples_read(s["config"]))
                for s, n, k in runs
                if n > 0
            ]

    def ended(self, run_id: str, failed: int = 0, live_fraction: float = 1.0, live_at_end: float | None = None) -> None:
        """A run's record is written: it did `live_fraction` of its planned work, and ended with
        `live_at_end` of its units alive (None: unknown, e.g. it failed)."""
        with self.lock:
            self.note(
                "ended",
                [run_id, int(failed), float(live_fraction), None if live_at_end is None else float(live_at_end)],
            )
            self.failed = failed
            new = run_id in self.work and run_id not in self.seen
            if new:
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
        if new and self.on_record:  # outside the lock: it may take a while
            self.on_record(run_id)

    def moving(self, running: dict[str, RunProgress]) -> None:
        """Runs still training: {run_id: (planned, actual, live)} as nnscratch.train.stack.Stack.progress."""
        with self.lock:
            self.note("moving", {r: [float(x) for x in f] for r, f in running.items() if r in self.work})
            now = self.clock()
            for r, f in running.items():
                if r in self.work and r not in self.seen:
                    self.running[r] = tuple(f)
                    if r in self.task_of:  # its first report comes about REPORT_EVERY after its start
                        self.task_start.setdefault(self.task_of[r], now - REPORT_EVERY)
            self.show()

    def task_evidence(self, task: int, now: float, reach: float | None = None) -> Evidence:
        """What a started task tells of its group, its work computed and its passes' counted as far as
        its furthest run got (`reach`, if the caller has it: furthest)."""
        reach = self.furthest(task) if reach is None else reach
        e = Evidence(seconds=now - self.task_start[task], computed=self.task_passes[task] * reach)
        for r in self.tasks[task]:
            w = self.work[r]
            if r in self.ended_runs:
                share, live = self.ended_runs[r]
                e.computed += w * share
                if live is not None:
                    e.weighed, e.alive = e.weighed + w, e.alive + w * live
            elif r in self.running:
                planned, actual, live = self.running[r]
                e.computed += w * actual
                if planned >= self.STARTED:
                    e.weighed, e.alive = e.weighed + w, e.alive + w * live
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
        seen = dict(self.closed)
        for i in timed:
            add_evidence(seen, self.task_group[i], self.task_evidence(i, now, reach[i]))
        groups = GroupRates(seen)
        free = [self.time_left(i, now, reach[i], i in timed, groups) for i in running]
        free += [0.0] * max(0, self.workers - len(free))  # when each worker is free
        heapq.heapify(free)
        for i, left in enumerate(self.task_left):  # each waiting task to the next free worker, in order
            if self.runs_left[i] and i not in self.task_start:
                g = self.task_group[i]
                cost = (left * groups.share(g) + self.task_passes[i]) * groups.rate(g)
                heapq.heappush(free, heapq.heappop(free) + cost)
        for g, work, passes in sorted(self.foreseen, key=lambda f: -f[1]):  # as planned: largest first
            heapq.heappush(free, heapq.heappop(free) + (work * groups.share(g) + passes) * groups.rate(g))
        return max(free, default=0.0)

    def time_left(self, task: int, now: float, reach: float, timed: bool, groups: GroupRates) -> float:
        """Seconds a running task still needs: its work and passes left at its own rate once it is timed
        (all its seconds over all it computed: a run admitted late into a stack has done little of its
        work, but the stack's seconds were spent on its mates), else at its group's; a run not yet
        started counts its group's share of units alive."""
        g, left = self.task_group[task], [r for r in self.tasks[task] if r not in self.seen]
        work = sum(
            self.work[r] * (1 - p) * (live if p >= self.STARTED else groups.share(g))
            for r in left
            for p, _, live in [self.running.get(r, (0.0, 0.0, 1.0))]
        )
        rate = groups.rate(g)
        if timed:  # the task's own seconds per unit of work, its ended runs' work and its passes included
            e = self.task_evidence(task, now, reach)
            rate = e.seconds / e.computed if e.computed else rate
        return (work + self.task_passes[task] * (1 - reach)) * rate

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
        self.fraction = shown_fraction(self.fraction, elapsed, eta)
        known = self.fraction or not np.isnan(eta)
        self.bar.n, self.bar.total = round(1000 * self.fraction), (1000 if known else None)
        left = "unknown" if np.isnan(eta) else clock_text(eta)
        self.bar.set_postfix_str(f"ETA {left}, {len(self.seen)}/{len(self.work)} runs, {self.failed} failed", False)
        if self.plain and (force or self.said is None or now - self.said >= self.PLAIN_EVERY):
            self.said = now
            log.info(self.line(elapsed, eta))
        if not self.trail or elapsed - self.trail[-1]["elapsed_s"] >= self.TRAIL_EVERY:
            done = self.planned_share()
            busy = sum(1 for i in self.task_start if self.runs_left[i])  # tasks training: the workers busy
            self.trail.append({"elapsed_s": elapsed, "runs": len(self.seen), "done": done, "eta_s": eta, "busy": busy})

    def line(self, elapsed: float, eta: float) -> str:
        """What the bar shows, as one plain line: elapsed, runs, share of the planned work done, ETA."""
        left = "unknown" if np.isnan(eta) else clock_text(eta)
        return (
            f"{self.desc}: {clock_text(elapsed)} elapsed, {len(self.seen)}/{len(self.work)} runs "
            f"({self.failed} failed), {100 * self.planned_share():.0f} % of the planned work done, ETA {left}"
        )

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
        end = {"elapsed_s": self.clock() - self.started, "runs": len(self.seen), "done": 1.0, "eta_s": 0.0, "busy": 0}
        rows = pd.DataFrame([*self.trail, end]).assign(session=started)
        if self.record.exists():  # a resumed sweep's: its columns (one written before `busy` was has none)
            with open(self.record) as f:
                rows = rows.reindex(columns=f.readline().strip().split(","))
        rows.to_csv(self.record, mode="a", header=not self.record.exists(), index=False)
        with open(self.record.with_name(EVENTS), "a") as f:  # one line per session: what it was told
            f.write(json.dumps({"session": started, "events": self.kept}) + "\n")


TALLY = threading.Lock()  # a run's summary may come twice (as it stops, and with its task's end), from two threads


def tally(counts: Counter, summary: dict, bar: Progress) -> None:
    """Count a finished or failed run by status and outcome, and advance the progress bar; a run
    the bar has already seen end is not counted again."""
    with TALLY:
        if summary["run_id"] in bar.seen:
            return
        count(counts, summary, bar)


def count(counts: Counter, summary: dict, bar: Progress) -> None:
    counts[summary["status"]] += 1
    if summary["status"] == "finished":
        counts[summary["outcome"]] += 1
    dead = summary.get("dead_l1")
    live_at_end = None if dead is None else 1.0 if np.isnan(dead) else 1.0 - dead  # NaN: units that cannot die
    bar.ended(summary["run_id"], counts["failed"], summary.get("live_fraction") or 1.0, live_at_end)


def closing_lines(counts: Counter, name: str, report: Path | None, results_csv: Path, logger: dict | None) -> list[str]:
    """The sweep's last words on the terminal: how many runs and how they ended, where the report is, and, with
    an MLflow logger, where its store is and the command that opens it."""
    said = [f"{counts[o]} {o}" for o in ("ok", "collapsed", "diverged") if counts[o]]
    said += [f"{counts['failed']} did not finish"] if counts["failed"] else []
    total = counts["finished"] + counts["failed"]
    lines = [f"{total} runs: {', '.join(said) or 'none'}."]
    lines.append(f"Report: {report}" if report else f"Results: {results_csv}")
    if (logger or {}).get("name") == "mlflow":
        uri, experiment = logger["tracking_uri"], logger.get("experiment") or name
        where = f"MLflow: the runs are in {uri}, experiment '{experiment}'."
        how = (
            f"Open it with: mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000"
            if uri.startswith("sqlite:")
            else f"Open {uri} in a browser."
        )
        lines += [where, how]
    return lines
