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
from pathlib import Path

from nnscratch import data as datamod
from nnscratch import diagnose, results
from nnscratch.config.checks import ConfigError, check
from nnscratch.run.prepared import open_prepared, prepare_for
from nnscratch.train.stack import RunProgress, train_stack

log = logging.getLogger(__name__)


def execute(
    specs: list[dict],
    data: datamod.Prepared,
    max_rows: int | None = None,
    report: Callable[[dict[str, RunProgress]], None] | None = None,
) -> list[tuple[dict, list[dict]]]:
    """Train one spec, or several stacked: (metrics with status, history) each. Errors become
    failed records, not a raise. `report` gets {run_id: its progress} about every second while
    they train (nnscratch.train.stack.Stack.progress)."""

    def by_run(done: list[RunProgress]) -> None:
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

    Bad config raises ConfigError and bad data DataError before anything is written (a folder that
    holds nothing but Hydra's record of the job goes: nothing ran); so does a folder that already
    holds a run (it is never overwritten).
    """
    if (Path(out_dir) / "metrics.json").exists():
        raise ConfigError(f"{out_dir} already holds a run: give another out_dir= (or none: Hydra picks a new folder)")
    try:
        check(spec["config"])
        data = prepare_for(spec["config"])
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


def run_task(specs: list[dict], data_dir: Path, runs_root: Path, max_rows: int | None = None) -> list[dict]:
    """Worker entry: mark started, train (stacked if several), write each record; one summary per run.
    While it trains, the work done so far is in runs/.progress/<worker>.json (see watch_progress)."""
    started = [runs_root / ".started" / s["run_id"] for s in specs]
    started[0].parent.mkdir(parents=True, exist_ok=True)
    for path in started:
        path.touch()
    progress = runs_root / ".progress" / f"{worker_name()}.json"

    def report(done: dict[str, RunProgress]) -> None:
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


# ---------------------------------------------------------------- a sweep
