"""The one schema of what runs and sweeps write, and the only code that reads it back.

A run directory (a single run's out_dir, or ``<sweep_dir>/runs/<run_id>/``) holds

    config.json    {"run_id", "overrides", "command", "axes", "config"}   what was run
    metrics.json   {"status": "finished" | "failed", "error", "outcome", "test_acc", ...}
    history.csv    one row per evaluation: iteration, loss, train_acc, test_acc, dead_l1, ...

A sweep directory holds ``sweep.json`` (the resolved sweep: name, axes, products, base overrides,
parallel settings, run ids), ``environment.json``, ``results.csv`` (one tidy row per run) and
``runs/``. Every file is written atomically (temporary name, then rename), so a crash leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

RESULT_COLUMNS = [
    "status",
    "outcome",
    "train_acc",
    "test_acc",
    "best_test_acc",
    "loss",
    "test_classes",
    "majority_rate",
    "dead_l1",
    "distinct_l1",
    "iteration",
    "seconds",
    "live_fraction",
    "stacked_with",
    "error",
    "command",
]


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def write_run(run_dir: Path, run: dict, metrics: dict, history: list[dict]) -> None:
    """Write one run's three files into a fresh folder, then move it into place in one rename."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}."))
    (tmp / "config.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    pd.DataFrame(history).to_csv(tmp / "history.csv", index=False)
    if run_dir.exists():  # a failed run being redone: swap, then drop the old record
        old = run_dir.with_name(f".{run_dir.name}.old")
        os.replace(run_dir, old)
        os.replace(tmp, run_dir)
        shutil.rmtree(old)
    else:
        os.replace(tmp, run_dir)


def read_run(run_dir: Path) -> dict:
    """{"run": config.json, "metrics": metrics.json} of one run folder."""
    return {"run": read_json(Path(run_dir) / "config.json"), "metrics": read_json(Path(run_dir) / "metrics.json")}


def runs_dir(sweep_dir: Path) -> Path:
    return Path(sweep_dir) / "runs"


def finished_ids(sweep_dir: Path) -> set[str]:
    """Ids of runs in the sweep whose record says finished."""
    return {d.name for d in run_dirs(sweep_dir) if read_json(d / "metrics.json").get("status") == "finished"}


def recorded_since(sweep_dir: Path, since: float) -> set[str]:
    """Ids of runs whose record was written at or after time `since` (seconds since the epoch)."""
    return {d.name for d in run_dirs(sweep_dir) if (d / "metrics.json").stat().st_mtime >= since}


def run_dirs(sweep_dir: Path) -> list[Path]:
    """Complete run folders of a sweep (temporary and half-written ones skipped)."""
    root = runs_dir(sweep_dir)
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if not d.name.startswith(".") and (d / "metrics.json").is_file())


def read_sweep(sweep_dir: Path) -> dict:
    """The resolved sweep config (sweep.json)."""
    return read_json(Path(sweep_dir) / "sweep.json")


def dataset_of(sweep_dir: Path) -> str:
    """The dataset a sweep trained on (from its first run's config)."""
    dirs = run_dirs(sweep_dir)
    return read_json(dirs[0] / "config.json")["config"]["data"]["name"] if dirs else "unknown"


def axes(sweep_dir: Path) -> list[str]:
    """The names of the sweep's axes, in the order the grid declares them."""
    return list(read_sweep(sweep_dir)["axes"])


def table_from_runs(sweep_dir: Path) -> pd.DataFrame:
    """One row per run: run_id, every axis value, the final metrics, status and command."""
    names = axes(sweep_dir)
    rows = []
    for d in run_dirs(sweep_dir):
        rec = read_run(d)
        row = {"run_id": rec["run"]["run_id"], **{a: rec["run"]["axes"].get(a) for a in names}}
        row |= {c: rec["metrics"].get(c) for c in RESULT_COLUMNS if c != "command"}
        row["command"] = rec["run"]["command"]
        rows.append(row)
    return pd.DataFrame(rows, columns=["run_id", *names, *RESULT_COLUMNS])


def write_results(sweep_dir: Path) -> pd.DataFrame:
    """Rebuild results.csv from the run folders (the source of truth) and return it."""
    df = table_from_runs(sweep_dir)
    atomic_write_text(Path(sweep_dir) / "results.csv", df.to_csv(index=False))
    return df


def read_results(sweep_dir: Path) -> pd.DataFrame:
    """results.csv of a sweep."""
    return pd.read_csv(Path(sweep_dir) / "results.csv")


def read_histories(sweep_dir: Path) -> pd.DataFrame:
    """Every run's history stacked, with a run_id column, for learning curves."""
    frames = [
        pd.read_csv(d / "history.csv").assign(run_id=d.name)
        for d in run_dirs(sweep_dir)
        if (d / "history.csv").stat().st_size > 1
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
