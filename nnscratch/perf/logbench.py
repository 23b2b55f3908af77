"""What logging to MLflow costs: the smoke grid with logger=none and logger=mlflow (SQLite) in one run,
each sweep a fresh `python -m experiments.sweep` process (its wall time whole, imports and all, and
the sweep's own session time from sweep.json), the two loggers taking turns; then a finished sweep of
trivial runs (nnscratch.perf.scale's grid) logged afterwards, as `python -m experiments.log` does, and
logged again (idempotent: nothing new).

    python -m experiments.logbench                         smoke x 2 each, then 10,000 trivial runs
    python -m experiments.logbench repeats=1 trivial_runs=1000
"""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from nnscratch import results
from nnscratch.loggers.mlflow import MlflowLogger
from nnscratch.paths import CONF_DIR
from nnscratch.perf.scale import stop_pool, trivial_grid
from nnscratch.run import sweep

ROOT = CONF_DIR.parent  # the checkout: where `python -m experiments.sweep` runs


def mlflow_settings(uri: str) -> dict:
    return {"name": "mlflow", "tracking_uri": uri, "experiment": None, "timeout": 5, "retries": 0}


def warm_store(uri: str) -> float:
    """Make the store (a new SQLite store runs its migrations: seconds) before anything is timed; seconds."""
    from mlflow import MlflowClient

    started = time.perf_counter()
    MlflowClient(uri).search_experiments(max_results=1)
    return time.perf_counter() - started


CHUNK = 1000  # runs logged between two progress lines


def timed_sweep(grid: str, logger: list[str], out_root: Path, extra: list[str]) -> dict:
    """One `python -m experiments.sweep` process: its wall time, its CPU time and its workers' (which a
    loaded machine changes less), and the sweep's session time."""
    argv = [sys.executable, "-m", "experiments.sweep", f"sweep={grid}", f"out_root={out_root}", "report=false"]
    argv.append("adaptive.enabled=false")  # the grid as it is: no extra seeds
    started, cpu = time.perf_counter(), cpu_of_children()
    subprocess.run([*argv, *logger, *extra], cwd=ROOT, check=True, capture_output=True)
    wall, cpu = time.perf_counter() - started, cpu_of_children() - cpu
    sweep_dir = max((out_root / grid).iterdir(), key=lambda p: p.stat().st_mtime)
    session = results.read_sweep(sweep_dir)["sessions"][-1]["wall_seconds"]
    name = logger[0].split("=")[1]
    return {"grid": grid, "logger": name, "process_s": wall, "cpu_s": cpu, "sweep_s": session, "sweep_dir": sweep_dir}


def cpu_of_children() -> float:
    """User + system seconds of the ended child processes (and theirs: a sweep's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep_overhead(grid: str, out_root: Path, uri: str, repeats: int, extra: list[str]) -> pd.DataFrame:
    """`repeats` sweeps of `grid` with each logger, taking turns (so that a change of load hits both)."""
    loggers = [["logger=none"], ["logger=mlflow", f"logger.tracking_uri={uri}"]]
    rows = []
    for _ in range(repeats):
        for lg in loggers:
            rows.append(timed_sweep(grid, lg, out_root, extra))
            shown = pd.DataFrame(rows[-1:]).drop(columns="sweep_dir")
            print(shown.to_string(index=False, float_format="%.1f"), flush=True)
    return pd.DataFrame(rows)


def relog_trivial(n: int, out_root: Path, uri: str, parallel: dict) -> dict:
    """Run n trivial runs (logger=none), then log the finished folder to `uri`, then log it again."""
    logging.getLogger("nnscratch").setLevel(logging.WARNING)
    started = time.perf_counter()
    sweep_dir, counts = sweep.run(trivial_grid(n), parallel, [], out_root, progress=False)
    run_s = time.perf_counter() - started
    stop_pool()
    store_s = warm_store(uri)
    tracker, folders = MlflowLogger(mlflow_settings(uri)), [d.name for d in results.run_dirs(sweep_dir)]
    started, logged = time.perf_counter(), 0
    for i in range(0, len(folders), CHUNK):  # in chunks, to show the rate as it goes
        logged += tracker.log_runs(sweep_dir, folders[i : i + CHUNK])
        print(f"{logged} runs logged in {time.perf_counter() - started:.1f} s", flush=True)
    tracker.log_runs(sweep_dir)  # none left: results.csv gets its mlflow_run_id column
    log_s = time.perf_counter() - started
    started = time.perf_counter()
    again = MlflowLogger(mlflow_settings(uri)).log_runs(sweep_dir)  # a fresh process's view: looks them up
    relog_s = time.perf_counter() - started
    return {
        "runs": n,
        "finished": counts["finished"],
        "sweep_s": run_s,
        "store_init_s": store_s,
        "logged": logged,
        "log_s": log_s,
        "runs_per_s": logged / log_s if log_s else float("nan"),
        "relogged": again,
        "relog_s": relog_s,
        "problem": tracker.problem,
        "sweep_dir": str(sweep_dir),
    }
