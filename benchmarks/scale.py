"""How the harness itself scales with the number of runs: a grid of trivial runs (1 iteration on
100 samples) planned, run, tabulated and reported at growing sizes, each size in a fresh process
so its peak memory is its own.

    python -m experiments.scale                     1,000 / 10,000 / 100,000 runs
    python -m experiments.scale 'sizes=[2000]'
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from nnscratch import results
from nnscratch.run import sweep

WEIGHTS = ["uniform", "he", "xavier", "normal"]
LRS = [0.01, 0.03, 0.1, 0.3, 1.0]


def trivial_grid(n: int) -> dict:
    """n runs (a multiple of 20): 4 inits x 5 learning rates x n/20 seeds, 1 iteration on 100 samples."""
    cells = len(WEIGHTS) * len(LRS)
    return {
        "name": f"scale_{n}",
        "axes": {
            "weights": WEIGHTS,
            "train": {"lr": LRS, "iterations": [1], "eval_every": [1]},
            "data": {"subset": [100]},
            "seed": list(range(-(-n // cells))),
        },
    }


def measure(n: int, out_root: Path, parallel: dict) -> dict:
    """Plan, run, tabulate and report a trivial grid of n runs; the figures of each step."""
    from nnscratch.report import write_report

    logging.getLogger("nnscratch").setLevel(logging.WARNING)
    started = time.time()
    sweep_dir, counts = sweep.run(sweep.SweepRequest(trivial_grid(n), [], out_root), parallel, progress=False)
    session = results.read_sweep(sweep_dir)["sessions"][-1]
    first = min(e["written"] for e in results.read_journal(sweep_dir).values())
    tabulate = min(seconds(results.write_results, sweep_dir) for _ in range(5))  # best of 5, as timeit: 0.1 s at 10k
    t = time.time()
    write_report([sweep_dir])
    report = time.time() - t
    running = session["wall_seconds"] - session["planning_seconds"]
    row = {
        "runs": n,
        "finished": counts["finished"],
        "planning_s": session["planning_seconds"],
        "planning_ms_per_run": 1000 * session["planning_seconds"] / n,
        "first_run_s": first - started,
        "run_s": running,
        "runs_per_s": n / running,
        "results_s": tabulate,
        "report_s": report,
        "end_to_end_s": time.time() - started,
        "client_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sweep_dir": str(sweep_dir),
    }
    stop_pool()
    return row


def seconds(fn: Callable[..., object], *args: object) -> float:
    """Wall time of one call."""
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def stop_pool() -> None:
    """Shut joblib's reusable worker pool down, or this process would wait out its idle timeout."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def scale_benchmark(sizes: list[int], out_root: Path, parallel: dict) -> pd.DataFrame:
    """One row per size, each measured in a fresh process (its own peak memory)."""
    rows = []
    for n in sizes:
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
            rows.append(pool.submit(measure, n, out_root, parallel).result())
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format="%.3f"), flush=True)
    return pd.DataFrame(rows)


def growth(table: pd.DataFrame) -> pd.DataFrame:
    """Each step's cost per run at each size over its cost per run at the size before (1.0 = linear)."""
    steps = ["planning_s", "run_s", "results_s", "report_s", "end_to_end_s"]
    per_run = table.set_index("runs")[steps].div(table.set_index("runs").index, axis=0)
    return (
        (per_run / per_run.shift(1))
        .iloc[1:]
        .rename(columns=lambda c: c.replace("_s", "") + " per run vs previous size")
    )
