"""What a worker runs: one task (one run, or several stacked), with the sweep's fault injection, its
records written as it ends; and a single run in this process (python -m experiments.train).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nnscratch import data as datamod
from nnscratch import diagnose, results
from nnscratch.config.checks import ConfigError, check
from nnscratch.networks.loading import NetworkFileError, load_notebook, own_network
from nnscratch.networks.training import train_notebook
from nnscratch.run import checkpoint, stopping
from nnscratch.run.checkpoint import refused, task_name
from nnscratch.run.prepared import open_prepared, prepare_for
from nnscratch.run.stopping import watch_parent
from nnscratch.run_config import run_config
from nnscratch.train.history import RunResult
from nnscratch.train.saved import UnusableState
from nnscratch.train.stack import Hooks, RunProgress, train_stack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskHooks:
    """What a task's training calls back and starts from (see execute): `report` gets {run_id: its
    progress} about every second while the runs train (nnscratch.train.stack.Stack.progress);
    `on_stop(spec, metrics, history)` each run's record the moment its model stops; `checkpoint`
    (every, save, asked) and `state` (a saved stack's bytes): see nnscratch.train.stack.train_stack. The
    stack's own Hooks speak of configs by index; `execute` turns these into them."""

    report: Callable[[dict[str, RunProgress]], None] | None = None
    on_stop: Callable[[dict, dict, list[dict]], None] | None = None
    checkpoint: tuple | None = None
    state: bytes | None = None


def execute(
    specs: list[dict], data: datamod.Prepared, max_rows: int | None = None, hooks: TaskHooks = TaskHooks()
) -> list[tuple[dict, list[dict]]]:
    """Train one spec, or several stacked: (metrics with status, history) each. Errors become
    failed records, not a raise (a run that had stopped before the error keeps its record).
    `hooks.on_stop` gets each run's record the moment its model stops, the same record this returns
    for it; a run that had stopped before `hooks.state` was saved is not passed to it again."""
    stopped: dict[int, tuple[dict, list[dict]]] = {}

    def by_run(done: list[RunProgress]) -> None:
        hooks.report({s["run_id"]: d for s, d in zip(specs, done)})

    def stop(i: int, result: RunResult) -> None:
        ran = {"status": "finished", "error": None, "stacked_with": len(specs), "worker": worker_name()}
        stopped[i] = (with_diagnosis(ran | result.metrics, result.history, specs[i]["config"]), result.history)
        if hooks.on_stop:
            hooks.on_stop(specs[i], *stopped[i])

    try:
        cfgs = [run_config(s["config"]) for s in specs]  # the records' plain configs, as the trainer's objects
        fault = cfgs[0].fault
        if fault == "raise":
            raise RuntimeError("fault injected by config (fault=raise)")
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        reporting = by_run if hooks.report else None
        trainer = Hooks(report=reporting, on_stop=stop, checkpoint=hooks.checkpoint)
        if cfgs[0].network.name != "builtin":  # a user's network trains alone, without stacking or checkpoints
            ((cfg,), (spec,)) = cfgs, specs
            progress = (lambda done: reporting([(done, done, 1.0)])) if reporting else None
            saving = hooks.checkpoint
            asked = saving[2] if saving and len(saving) > 2 else None
            done = [train_notebook(cfg, data, load_notebook(spec["config"]["network"], probe=False), progress, asked)]
        else:
            try:
                done = train_stack(cfgs, data, max_rows, hooks.state, trainer)
            except UnusableState as err:  # found before any training: a state made by hand, or another version's
                log.warning(refused(Path("checkpoints", f"{task_name(specs)}.ckpt"), str(err)))
                done = train_stack(cfgs, data, max_rows, None, trainer)
        ran = {"status": "finished", "error": None, "stacked_with": len(specs), "worker": worker_name()}
        return [
            stopped.get(i) or (with_diagnosis(ran | r.metrics, r.history, specs[i]["config"]), r.history)
            for i, r in enumerate(done)
        ]
    except Exception as err:  # a run's failure is a result of the sweep, not the end of it
        if stopping.is_disk_full(err):  # not the run's: the sweep stops (nnscratch.run.sweep.run)
            raise
        failed = {"status": "failed", "error": f"{type(err).__name__}: {err}", "worker": worker_name()}
        return [stopped.get(i) or fail(spec, failed, hooks.on_stop) for i, spec in enumerate(specs)]


def fail(spec: dict, metrics: dict, on_stop: Callable[[dict, dict, list[dict]], None] | None) -> tuple[dict, list]:
    """A failed run's record, passed to `on_stop` as a stopped one's is."""
    if on_stop:
        on_stop(spec, metrics, [])
    return metrics, []


def with_diagnosis(metrics: dict, history: list[dict], config: dict) -> dict:
    """The metrics with the run's diagnosis columns (nnscratch.diagnose, conf/diagnoses.yaml)."""
    return metrics | diagnose.summary(diagnose.diagnose(history, metrics, config))


def worker_name() -> str:
    """host:pid of the process that ran a task."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_single(spec: dict, out_dir: Path) -> dict:
    """Validate, load data, train and write one run to `out_dir`; the metrics.

    Bad config raises ConfigError and bad data DataError before anything is written (a folder that
    holds nothing but Hydra's record of the job goes: nothing ran); so does a folder that already
    holds a run (it is never overwritten).
    """
    if (Path(out_dir) / "metrics.json").exists():
        raise ConfigError(f"{out_dir} already holds a run: give another out_dir= (or none: Hydra picks a new folder)")
    try:
        check(spec["config"])
        if own_network(spec["config"]):
            # its import probed: slow, data-reading or incomplete files stop here
            load_notebook(spec["config"]["network"])
        data = prepare_for(spec["config"])
    except NetworkFileError as err:
        drop_if_unused(Path(out_dir))
        raise ConfigError(str(err)) from None
    except (ConfigError, datamod.DataError):
        drop_if_unused(Path(out_dir))
        raise
    ((metrics, history),) = execute([spec], data)
    results.write_run_files(Path(out_dir), spec, metrics, history)
    return metrics


def drop_if_unused(folder: Path) -> None:
    """Remove a job folder that holds nothing but Hydra's record of the job, and its parents left
    empty, up to the working directory."""
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= {".hydra"}:
        shutil.rmtree(folder)
        for parent in folder.parents:
            if parent == Path.cwd() or any(parent.iterdir()) or parent.name == "":
                break
            parent.rmdir()


def run_task(
    specs: list[dict], data_dir: Path, runs_root: Path, max_rows: int | None = None, checkpoint_every: float = 0
) -> list[dict]:
    """Worker entry: mark started, train (stacked if several), write each record the moment its run
    stops (its folder and journal line, and its summary in runs/.ended/ for the progress bar); one
    summary per run. While it trains, the work done so far is in runs/.progress/<worker>.json (see
    nnscratch.run.loky.watch_progress). The worker exits if the sweep's process dies (stopping.watch_parent).
    With checkpoint_every > 0 the task saves its state about that often (seconds) into the sweep's
    checkpoints/, continues from a checkpoint found there, and removes it when it ends."""
    watch_parent()
    kept = {s["run_id"] for s in specs if is_finished(runs_root / s["run_id"])}  # a resumed task's, recorded
    started = {s["run_id"]: runs_root / ".started" / s["run_id"] for s in specs}
    for folder in (".started", ".ended"):
        (runs_root / folder).mkdir(parents=True, exist_ok=True)
    for rid, path in started.items():
        if rid not in kept:
            path.touch()
    progress = runs_root / ".progress" / f"{worker_name()}.json"
    summaries: dict[str, dict] = {}

    def report(done: dict[str, RunProgress]) -> None:
        results.atomic_write_text(progress, json.dumps(done))

    def record(spec: dict, metrics: dict, history: list[dict]) -> None:
        rid = spec["run_id"]
        if rid in kept:
            rec = results.read_run(runs_root / rid)
            summaries[rid] = results.result_row(rec["run"], rec["metrics"])
        else:
            summaries[rid] = results.record_run(runs_root.parent, spec, metrics, history)
            results.atomic_write_text(runs_root / ".ended" / f"{rid}.json", json.dumps(summaries[rid], default=str))
        started[rid].unlink(missing_ok=True)

    saves = runs_root.parent / "checkpoints"
    state = checkpoint.load_state(saves, specs) if checkpoint_every else None
    if state is not None:
        log.warning("a task of %d run(s) continues from its checkpoint", len(specs))
    every = saver(saves, specs, checkpoint_every, runs_root / ".busy" / str(os.getpid())) if checkpoint_every else None
    try:
        done = execute(specs, open_prepared(data_dir), max_rows, TaskHooks(report, record, every, state))
        for spec, (metrics, history) in zip(specs, done):
            if spec["run_id"] not in summaries:  # it had stopped before `state` was saved: no on_stop again
                record(spec, metrics, history)
        checkpoint.remove(saves, specs)  # its last record is written
    finally:
        progress.unlink(missing_ok=True)
        (runs_root / ".busy" / str(os.getpid())).unlink(missing_ok=True)
    return [summaries[s["run_id"]] for s in specs]


def saver(saves: Path, specs: list[dict], every: float, busy: Path) -> tuple:
    """A task's (every, save, asked) for train_stack: its checkpoint about every `every` seconds, and
    at the end of the iteration during which the worker got SIGINT (stopping.save_when_interrupted),
    after which it trains no further. `busy` (runs/.busy/<pid>, holding the task's checkpoint name)
    tells a stopping sweep which workers to ask and which checkpoint to wait for
    (nnscratch.run.loky.save_checkpoints_now)."""
    asked = stopping.save_when_interrupted()
    busy.parent.mkdir(parents=True, exist_ok=True)
    results.atomic_write_text(busy, checkpoint.path_of(saves, specs).name)

    def save(state: bytes) -> None:
        checkpoint.save_state(saves, specs, state)
        if asked():
            stopping.hold_after_save()

    return every, save, asked


def is_finished(run_dir: Path) -> bool:
    """Whether a run folder holds a finished record."""
    try:
        results.read_history_csv(run_dir / "history.csv")
        return results.read_run(run_dir)["metrics"]["status"] == "finished"
    except results.DamagedRecord:  # none, or damaged: the run is trained again
        return False


# ---------------------------------------------------------------- a sweep
