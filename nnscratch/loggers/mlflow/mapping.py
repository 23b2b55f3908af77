"""A nnscratch run as an MLflow run: which folders hold runs (the sweep's layout, nnscratch.results), the
experiment's name, and a run's tags, params and metrics (the package's docstring lists them)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from nnscratch import results

MAX_TAG = 5000  # characters of a tag value kept (MLflow refuses more than 8,000)


def experiment_name(sweep_dir: Path) -> str:
    """The grid's name; a Hydra multirun of experiments.train: train-multirun; single runs: train."""
    if results.is_sweep(sweep_dir):
        return results.read_sweep(sweep_dir)["name"]
    return "train-multirun" if results.is_multirun(sweep_dir) else "train"


def runs_root(sweep_dir: Path) -> Path:
    """The folder that holds the run folders: runs/ of a sweep, else the folder itself (a multirun's jobs,
    or the day folder of single runs)."""
    return results.runs_dir(sweep_dir) if has_results(sweep_dir) else sweep_dir


def has_results(sweep_dir: Path) -> bool:
    """A sweep or a multirun (which has a results.csv, or will), not the day folder of single runs."""
    return results.is_sweep(sweep_dir) or results.is_multirun(sweep_dir)


def run_folders(sweep_dir: Path) -> list[str]:
    """Names of the complete run folders of a sweep."""
    return [d.name for d in results.complete_runs(runs_root(sweep_dir))]


def text(value) -> str:
    """A param or tag value as results.csv writes an axis: lists as [64,32], None as null."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(text(v) for v in value) + "]"
    return "null" if value is None else str(value)


def flatten(config: dict, prefix: str = "") -> dict:
    """{"model.hidden": [10], "data.subset": 1000, ...}: nested keys joined by dots, as results.csv's axes."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_axes(run: dict) -> dict:
    """The run's axis values, as its config.json records them (a multirun job: the keys it swept)."""
    return run.get("axes") or {}


def params_of(run: dict, axes: dict) -> list:
    """The flattened resolved config, and the axes that are group choices (weights = zeros): Params."""
    from mlflow.entities import Param

    flat = flatten(run["config"])
    return [Param(k, text(v)) for k, v in (flat | {a: v for a, v in axes.items() if a not in flat}).items()]


def tags_of(sweep_dir: Path, folder: str, run: dict, metrics: dict, axes: dict, written: str) -> dict:
    """The tags that find a run and say what it is and how it ended (the package's docstring)."""
    cell = " ".join(f"{a}={text(v)}" for a, v in axes.items() if a != "seed")
    tags = {
        "sweep": f"{sweep_dir.parent.name}/{sweep_dir.name}",
        "sweep_dir": str(sweep_dir),
        "run_dir": folder,
        "nnscratch_run_id": run["run_id"],
        "cell": cell,
        "seed": text(run["config"].get("seed")),
        "command": run.get("command"),
        "nnscratch_written": written,
    } | {k: metrics.get(k) for k in ("status", "outcome", "diagnosis", "error", "worker")}
    return {k: str(v)[:MAX_TAG] for k, v in tags.items() if v is not None}


def number(value) -> bool:
    """A value MLflow can plot: a number, not a bool, not NaN (NaN: not measured, e.g. dead units of tanh)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def metrics_of(metrics: dict, history: list[dict], when_ms: int) -> list:
    """The history as step metrics (step = iteration), then the final metrics the history lacks: Metrics."""
    from mlflow.entities import Metric

    out = [
        Metric(k, float(v), when_ms, int(row["iteration"]))
        for row in history
        for k, v in row.items()
        if k != "iteration" and number(v)
    ]
    logged = {k for row in history for k in row}
    last = int(metrics.get("iteration") or 0)
    return out + [Metric(k, float(v), when_ms, last) for k, v in metrics.items() if k not in logged and number(v)]


def read_history_numbers(run_dir: Path) -> list[dict]:
    """history.csv of a run folder as rows of numbers (a failed run's is empty; an empty cell or text: None).
    The csv module, not pandas: a tenth of the time per run, which counts at 10,000 runs."""
    path = run_dir / "history.csv"
    if not path.is_file():
        return []
    try:
        with open(path, newline="") as f:
            return [{k: as_number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (UnicodeDecodeError, csv.Error) as err:  # edited or cut short: that run's problem (log_readable)
        raise results.DamagedRecord(f"{path}: cannot be read as CSV ({type(err).__name__}: {err})") from None


def as_number(cell: str) -> float | None:
    """A csv cell as pandas would read a number ('nan' included), or None."""
    try:
        return float(cell)
    except (ValueError, TypeError):  # TypeError: a row shorter than the header (csv gives None)
        return None


def written_stamp(run_dir: Path) -> str:
    """When the record was written (metrics.json's mtime, ns): a record rewritten gets a new one."""
    return str((run_dir / "metrics.json").stat().st_mtime_ns)
