"""What a sweep's adaptive rounds cost in waiting: its wall time, runs and rounds, the worker time left idle
while runs remained (from progress.csv's `busy`, the tasks training at each sample), and how honest its ETA was
(benchmarks.bench.eta_accuracy).

    python -m benchmarks.rounds outputs/smoke/<strict> outputs/smoke/<overlapped>
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench import eta_accuracy
from nnscratch import results


def whole(trail: pd.DataFrame) -> pd.DataFrame:
    """The trails of a sweep's bars (strict rounds: one per round) as one, timed from the first bar's start, as
    one session: each bar's ETA then faces the time actually left to the sweep's end (a bar's closing row,
    ETA 0, is left out but for the sweep's last)."""
    start = pd.to_datetime(trail["session"])
    at = (start - start.min()).dt.total_seconds() + trail["elapsed_s"]
    out = trail.assign(elapsed_s=at, session="whole").sort_values("elapsed_s", kind="stable")
    closing = (out["done"] == 1.0) & (out["eta_s"] == 0.0)  # each bar's last row, written as it closes
    return out[~closing | (out["elapsed_s"] == out["elapsed_s"].max())]


def idle_worker_seconds(trail: pd.DataFrame, workers: int) -> float:
    """Worker-seconds with no task training from the first sample to the sweep's end (`whole`'s trail):
    each sample's (workers - busy) held until the next sample; between bars, no task trains."""
    dt = np.diff(trail["elapsed_s"].to_numpy())
    free = np.clip(workers - trail["busy"].to_numpy()[:-1], 0, None)
    return float((free * dt).sum())


def summary(sweep_dir: Path, workers: int = 2) -> dict:
    """One sweep's figures (see the module doc)."""
    record = results.read_sweep(sweep_dir)
    trail = whole(pd.read_csv(Path(sweep_dir) / "progress.csv"))
    wall = sum(s["wall_seconds"] for s in record["sessions"])
    eta = eta_accuracy(trail, 60.0)
    return {
        "sweep": Path(sweep_dir).name,
        "overlap": (record.get("adaptive") or {}).get("overlap"),
        "wall_s": wall,
        "runs": len(results.read_results(sweep_dir)),
        "rounds": len(record["rounds"]),
        "idle_worker_s": round(idle_worker_seconds(trail, workers), 1),
        "eta_worst_factor_from_60s": round(eta["worst_factor"], 2),
        "eta_samples": eta["samples"],
    }


if __name__ == "__main__":
    print(pd.DataFrame([summary(Path(d)) for d in sys.argv[1:]]).to_string(index=False))
