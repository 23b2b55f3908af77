"""Which runs a check looks at, and each run's margin: its measure minus the check's threshold, signed so
that a positive margin passes (a contrast: the paired difference of twin runs, same seed and other axes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

STRICT = {"<", ">"}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def select(runs: pd.DataFrame, where: dict) -> pd.DataFrame | None:
    """Runs matching {axis: value(s)}; None when the sweep lacks one of the axes."""
    if any(axis not in runs.columns for axis in where):
        return None
    mask = np.ones(len(runs), bool)
    for axis, values in where.items():
        mask &= runs[axis].astype(str).isin([str(v) for v in as_list(values)])
    return runs[mask]


def at_iteration(runs: pd.DataFrame, histories: pd.DataFrame, iteration: int) -> pd.DataFrame:
    """The runs' axes joined with their history row at `iteration` (runs that never got there drop out)."""
    rows = histories[histories["iteration"] == iteration]
    keep = [c for c in runs.columns if c not in rows.columns or c == "run_id"]
    return runs[keep].merge(rows, on="run_id")


def threshold(expr, frame: pd.DataFrame, named: dict) -> pd.Series:
    """A check's value per run: a number, a named expression (e.g. collapse) or an expression."""
    if isinstance(expr, int | float):
        return pd.Series(float(expr), index=frame.index)
    return frame.eval(named.get(expr, expr))


def signed(measure: pd.Series, value: pd.Series, op: str) -> pd.Series:
    """Margin: how far the measure is on the passing side of the value."""
    return measure - value if op in (">=", ">") else value - measure


def per_run(check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str]):
    """The runs (or twin pairs) looked at, with columns measure, margin and run_ids; None if there are none."""
    source = runs if "at" not in check else at_iteration(runs, histories, check["at"])
    op = check.get("op", ">=")
    if check["kind"] == "threshold":
        frame = select(source, check["select"])
        if frame is None or frame.empty:
            return None
        frame = frame.assign(measure=frame.eval(check["measure"]), run_ids=frame["run_id"].map(lambda r: [r]))
    elif check["kind"] == "contrast":
        frame = contrast(check, source, axes)
    elif check["kind"] == "reach":
        frame = reach(check, runs, histories)
        op = ">="
    else:
        raise ValueError(f"unknown check kind {check['kind']!r} (allowed: threshold, contrast, reach)")
    if frame is None:
        return None
    return frame.assign(margin=signed(frame["measure"], threshold(check["value"], frame, named), op))


def contrast(check: dict, source: pd.DataFrame, axes: list[str]) -> pd.DataFrame | None:
    """Each run of selection `a` paired with its twin in `b`: same seed and same other axes."""
    a, b = select(source, check["a"]), select(source, check["b"])
    if a is None or b is None or a.empty or b.empty:
        return None
    differing = [k for k in check["a"] if str(check["a"][k]) != str(check["b"].get(k))]
    axes = [c for c in axes if c in source.columns and c not in differing]
    b = b.rename(columns={c: f"b_{c}" for c in b.columns if c not in axes})
    pairs = a.merge(b, on=axes)
    if pairs.empty:
        return None
    return pairs.assign(
        measure=pairs.eval(check["measure"].replace("b.", "b_")),
        run_ids=[[x, y] for x, y in zip(pairs["run_id"], pairs["b_run_id"])],
    )


def reach(check: dict, runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame | None:
    """Per run, the highest value of the measure within `within` iterations (measure) and the first
    iteration at which it reached `value` (first; NaN if never)."""
    frame = select(runs, check["select"])
    if frame is None or frame.empty:
        return None
    mine = histories[histories["run_id"].isin(frame["run_id"]) & (histories["iteration"] <= check["within"])]
    values = mine.assign(m=mine.eval(check["measure"]))
    best = values.groupby("run_id")["m"].max()
    first = values[values["m"] >= check["value"]].groupby("run_id")["iteration"].min()
    return frame.assign(
        measure=frame["run_id"].map(best),
        first=frame["run_id"].map(first),
        run_ids=frame["run_id"].map(lambda r: [r]),
    )
