"""What logging to MLflow costs: each grid of conf/logbench.yaml (the smoke grid, the default grid at one
seed and 150 iterations) with logger=none and logger=mlflow (SQLite) in one run, paired and taking
turns, each sweep a fresh `python -m experiments.sweep` process: its wall time whole (imports and
all), the sweep's own session time (sweep.json), and CPU time, the client's own and its children's
apart (its workers and, with logger=mlflow, its logging process: nnscratch.loggers.process); then a
finished sweep of trivial runs (benchmarks.scale's grid) logged afterwards, as
`python -m experiments.log` does, and logged again (idempotent: nothing new).

    python -m experiments.logbench repeats=2 trivial_runs=0   both grids, 2 pairs each
    python -m experiments.logbench repeats=0 trivial_runs=10000
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks.scale import stop_pool, trivial_grid
from nnscratch import results
from nnscratch.loggers.mlflow import MlflowLogger
from nnscratch.paths import CONF_DIR
from nnscratch.run import sweep

ROOT = CONF_DIR.parent  # the checkout: where `python -m experiments.sweep` runs


def mlflow_settings(uri: str, bulk_workers: int = 1) -> dict:
    return {"name": "mlflow", "tracking_uri": uri, "experiment": None, "timeout": 5, "retries": 0} | {
        "bulk_workers": bulk_workers
    }


def warm_store(uri: str) -> float:
    """Make the store (a new SQLite store runs its migrations: seconds) before anything is timed; seconds."""
    from mlflow import MlflowClient

    started = time.perf_counter()
    MlflowClient(uri).search_experiments(max_results=1)
    return time.perf_counter() - started


# Runs `python -m experiments.sweep ...` in this process and, at its exit, writes the process's own CPU
# time (the client: planning, collecting, handing records to its logger) and whether it imported
# MLflow to the file named first.
SWEEP_WITH_RUSAGE = """import atexit, json, resource, runpy, sys
out = sys.argv.pop(1)
def record():
    u = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, "w") as f:
        json.dump({"client_cpu_s": u.ru_utime + u.ru_stime, "client_imported_mlflow": "mlflow" in sys.modules}, f)
atexit.register(record)  # registered first, so run last: after loky's own exit handlers
runpy.run_module("experiments.sweep", run_name="__main__", alter_sys=True)
"""


def timed_sweep(grid: str, logger: list[str], out_root: Path, extra: list[str]) -> dict:
    """One `python -m experiments.sweep` process: its wall time, its CPU time and its children's (its
    workers, its logging process), whether it imported MLflow itself, and the sweep's session time."""
    argv = [f"sweep={grid}", f"out_root={out_root}", "report=false", "adaptive.enabled=false", *logger, *extra]
    usage = out_root / "rusage.json"
    started, cpu = time.perf_counter(), cpu_of_children()
    command = [sys.executable, "-c", SWEEP_WITH_RUSAGE, str(usage), *argv]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    wall, cpu = time.perf_counter() - started, cpu_of_children() - cpu
    client = json.loads(usage.read_text())
    sweep_dir = max((out_root / grid).iterdir(), key=lambda p: p.stat().st_mtime)
    session = results.read_sweep(sweep_dir)["sessions"][-1]["wall_seconds"]
    return {
        "grid": grid,
        "logger": logger[0].split("=")[1],
        "runs": len(results.run_dirs(sweep_dir)),
        "process_s": wall,
        "cpu_s": cpu,
        "client_cpu_s": client["client_cpu_s"],
        "children_cpu_s": cpu - client["client_cpu_s"],
        "sweep_s": session,
        "client_imported_mlflow": client["client_imported_mlflow"],
        "sweep_dir": sweep_dir,
    }


def cpu_of_all() -> float:
    """User + system seconds of this process and its ended children (a pool of bulk workers, once shut)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + cpu_of_children()


def cpu_of_children() -> float:
    """User + system seconds of the ended child processes (and theirs: a sweep's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep_overhead(grids: dict[str, list[str]], out_root: Path, uri: str, repeats: int) -> pd.DataFrame:
    """`repeats` rounds; in each, every grid ({name: its overrides}) with logger=none and logger=mlflow
    back to back (paired), the first of the two alternating between rounds (so a trend in the load
    hits both alike)."""
    loggers = [["logger=none"], ["logger=mlflow", f"logger.tracking_uri={uri}"]]
    rows = []
    for r in range(repeats):
        for grid, extra in grids.items():
            for lg in loggers if r % 2 == 0 else loggers[::-1]:
                rows.append(timed_sweep(grid, lg, out_root, extra) | {"round": r})
                shown = pd.DataFrame(rows[-1:]).drop(columns="sweep_dir")
                print(shown.to_string(index=False, float_format="%.1f"), flush=True)
    return pd.DataFrame(rows)


def overhead_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per grid: the median of each figure with either logger, and mlflow's paired excess in % (median over rounds)."""
    figures = ["process_s", "sweep_s", "cpu_s", "client_cpu_s", "children_cpu_s"]
    wide = table.pivot_table(index=["grid", "round"], columns="logger", values=figures)
    rows = []
    for grid, pairs in wide.groupby(level="grid"):
        for fig in figures:
            none, mlflow = pairs[(fig, "none")], pairs[(fig, "mlflow")]
            excess = 100 * (mlflow - none) / none
            rows.append(
                {"grid": grid, "figure": fig, "none": none.median(), "mlflow": mlflow.median()}
                | {"excess_%": excess.median(), "excess_%_each": " ".join(f"{e:+.1f}" for e in excess)}
            )
    return pd.DataFrame(rows)


def relog_trivial(
    n: int, out_root: Path, uri: str, parallel: dict, bulk_workers: int, sweep_dir: Path | None = None
) -> dict:
    """Run n trivial runs (logger=none; or take the finished folder `sweep_dir` of such a sweep), then log
    the folder to `uri` (as experiments.log does, with `bulk_workers` processes), then log it again (a
    fresh logger: it finds them all, logs none)."""
    logging.getLogger("nnscratch").setLevel(logging.WARNING)
    started = time.perf_counter()
    if sweep_dir is None:
        sweep_dir, counts = sweep.run(sweep.SweepRequest(trivial_grid(n), [], out_root), parallel, progress=False)
        stop_pool()
    else:
        counts = {"finished": len(results.run_dirs(sweep_dir))}
    run_s = time.perf_counter() - started
    store_s = warm_store(uri)
    logging.getLogger("nnscratch.loggers.mlflow").setLevel(logging.INFO)  # a line per 1,000 runs logged
    tracker = MlflowLogger(mlflow_settings(uri, bulk_workers))
    started, cpu, load = time.perf_counter(), cpu_of_all(), os.getloadavg()[0]
    logged = tracker.log_runs(sweep_dir)  # as experiments.log: one call, one pool of bulk workers
    log_s, log_cpu = time.perf_counter() - started, cpu_of_all() - cpu
    load = f"{load:.1f}-{os.getloadavg()[0]:.1f}"  # the 1-minute load average as logging began and ended
    started = time.perf_counter()
    again = MlflowLogger(mlflow_settings(uri)).log_runs(sweep_dir)  # a fresh process's view: looks them up
    relog_s = time.perf_counter() - started
    return {
        "runs": n,
        "bulk_workers": bulk_workers,
        "finished": counts["finished"],
        "sweep_s": run_s,
        "store_init_s": store_s,
        "logged": logged,
        "log_s": log_s,
        "log_cpu_s": log_cpu,
        "load": load,
        "runs_per_s": logged / log_s if log_s else float("nan"),
        "relogged": again,
        "relog_s": relog_s,
        "problem": tracker.problem,
        "sweep_dir": str(sweep_dir),
    }
