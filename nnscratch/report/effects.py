"""What a grid varied, answered first: each level of each axis against the axis's baseline (its first
level, as the grid lists it), on test accuracy and on the share of runs that did not learn.

A level's effect is a mean over pairs of twin runs: a run at that level and the run at the baseline with
the same seed and the same level of every other axis. Its interval is the paired t interval over those
pairs at the claims file's confidence: a description of this grid (the pairs of different cells are not
repeats of one experiment), not a sequential decision like a claim's. Where a level's effect at one level
of another axis differs from its effect at that axis's baseline (the paired difference of the two effects,
matched by seed and the remaining axes, has an interval clear of 0), that is an interaction, and the
summary says the effect per level of that axis.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from nnscratch.report.tables import factors, with_outcome
from nnscratch.results import SEED

NOT_LEARNED = ("collapsed", "diverged")  # a run that did not learn (a run that failed to finish is not paired)
NULL = "null"  # a missing axis value (YAML null) is a level of its own


@dataclass(frozen=True)
class Interval:
    """A mean over n pairs and its paired t interval; low = high = NaN with fewer than 2 pairs."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def clear(self) -> bool:
        """The interval excludes 0: a difference this grid shows."""
        return self.low > 0 or self.high < 0


def paired_interval(d: np.ndarray, confidence: float) -> Interval:
    """Mean of the differences d (n,) and its two-sided t interval at `confidence` (NaN where d is NaN
    is left out). Pairs that all agree give the point interval [mean, mean]."""
    d = np.asarray(d, float)
    d = d[~np.isnan(d)]
    n = len(d)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(d.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def comparable(runs: pd.DataFrame, axes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """(finished runs with every axis as text and `lost` = 1 for a run that did not learn, the axes to match
    twins on: the varying ones and the seed)."""
    keys = factors(runs, axes) + ([SEED] if SEED in runs.columns else [])
    done = with_outcome(runs)
    done = done[done["status"] == "finished"]
    text = {k: done[k].astype(object).map(level_text) for k in keys}
    return done.assign(**text, lost=done["outcome"].isin(NOT_LEARNED).astype(float)), keys


def level_text(value) -> str:
    """A level as the comparisons match it: 'null' for a missing value, 5000.0 as '5000' (a column with a
    null reads back as floats), lists without spaces ('[64,32]')."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NULL
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", "", str(value))


def grid_order(record: dict) -> dict[str, list[str]]:
    """Each axis's levels in the order sweep.json's products list them (the main grid first, then extras)."""
    order: dict[str, list[str]] = {}
    for product in (record.get("products") or {}).values():
        for axis, values in product.items():
            known = order.setdefault(axis, [])
            known += [v for v in map(level_text, values) if v not in known]
    return order


def baseline_and_levels(runs: pd.DataFrame, axis: str, order: dict[str, list[str]]) -> list[str]:
    """An axis's levels, the baseline first: a level no product lists (the base config's, e.g. the 500
    iterations beside an extra's 3000) first, then the levels in the order the grid lists them."""
    listed = order.get(axis, [])
    present = list(pd.unique(runs[axis]))
    return sorted(present, key=lambda v: (v in listed, listed.index(v) if v in listed else present.index(v)))


def paired(runs: pd.DataFrame, axis: str, level: str, baseline: str, keys: list[str]) -> pd.DataFrame:
    """Each run at `level` beside its twin at `baseline` (same value of every other key): the other keys,
    d_acc (test accuracy, level minus baseline) and d_lost (did not learn, 1 / 0 / -1), lost and lost_base."""
    on = [k for k in keys if k != axis]
    a, b = runs[runs[axis] == level], runs[runs[axis] == baseline]
    pairs = a[[*on, "test_acc", "lost"]].merge(b[[*on, "test_acc", "lost"]], on=on, suffixes=("", "_base"))
    return pairs.assign(d_acc=pairs["test_acc"] - pairs["test_acc_base"], d_lost=pairs["lost"] - pairs["lost_base"])


def every_level(runs: pd.DataFrame, axes: list[str], order: dict[str, list[str]]):
    """(axis, level, baseline, its twin pairs, the keys twins match on) for every level of every axis with more
    than one, but the axis's baseline."""
    done, keys = comparable(runs, axes)
    for axis in factors(runs, axes):
        baseline, *levels = baseline_and_levels(done, axis, order)
        for level in levels:
            yield axis, level, baseline, paired(done, axis, level, baseline, keys), keys


def effects(runs: pd.DataFrame, axes: list[str], order: dict[str, list[str]], confidence: float = 0.95) -> pd.DataFrame:
    """One row per axis with more than one level and per level but its baseline: axis, level, baseline,
    pairs, acc (Interval of the test-accuracy difference), lost (Interval of the did-not-learn difference),
    lost_level / lost_baseline (runs that did not learn, of the pairs)."""
    rows = [
        {
            "axis": axis,
            "level": level,
            "baseline": baseline,
            "pairs": len(pairs),
            "acc": paired_interval(pairs["d_acc"], confidence),
            "lost": paired_interval(pairs["d_lost"], confidence),
            "lost_level": int(pairs["lost"].sum()),
            "lost_baseline": int(pairs["lost_base"].sum()),
        }
        for axis, level, baseline, pairs, _ in every_level(runs, axes, order)
    ]
    columns = ["axis", "level", "baseline", "pairs", "acc", "lost", "lost_level", "lost_baseline"]
    return pd.DataFrame(rows, columns=columns)


def interactions(
    runs: pd.DataFrame, axes: list[str], order: dict[str, list[str]], confidence: float = 0.95
) -> pd.DataFrame:
    """One row per (axis, level, other axis `by`, its level `at` but its baseline): the level's effect at `at`
    and at by's baseline (Intervals, acc), and the paired difference of the two (change, for acc and lost),
    matched by seed and the remaining axes; `changes` when either difference's interval is clear of 0."""
    done, rows = comparable(runs, axes)[0], []
    for axis, level, baseline, pairs, keys in every_level(runs, axes, order):
        for by in [k for k in keys if k not in (axis, SEED)]:
            by_base, *by_levels = baseline_and_levels(done, by, order)
            rest = [k for k in keys if k not in (axis, by)]
            for at in by_levels:
                here, there = pairs[pairs[by] == at], pairs[pairs[by] == by_base]
                both = here.merge(there, on=rest, suffixes=("", "_there"))
                acc = paired_interval(both["d_acc"] - both["d_acc_there"], confidence)
                lost = paired_interval(both["d_lost"] - both["d_lost_there"], confidence)
                rows.append(
                    {
                        "axis": axis,
                        "level": level,
                        "baseline": baseline,
                        "by": by,
                        "at": at,
                        "by_baseline": by_base,
                        "acc_at": paired_interval(here["d_acc"], confidence),
                        "acc_at_baseline": paired_interval(there["d_acc"], confidence),
                        "acc_change": acc,
                        "lost_change": lost,
                        "changes": acc.clear or lost.clear,
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the numbers in words


def points(x: float) -> str:
    """An accuracy difference in points (0.012 -> '1.2')."""
    return f"{100 * x:.1f}" if abs(100 * x) >= 0.1 or x == 0 else f"{100 * x:.2f}"


def signed_points(x: float) -> str:
    return ("+" if x >= 0 else "−") + points(abs(x))


def interval_text(i: Interval) -> str:
    """'+1.2 [+0.4, +2.0] points', or the cases with no interval in words."""
    if i.n == 0:
        return "no pairs"
    if i.n == 1:
        return f"{signed_points(i.mean)} points (one pair: no interval)"
    if i.low == i.high:
        return f"{signed_points(i.mean)} points on every one of {i.n} pairs"
    return f"{signed_points(i.mean)} [{signed_points(i.low)}, {signed_points(i.high)}] points"


def accuracy_words(baseline: str, i: Interval) -> str:
    """What a level does to test accuracy against the baseline, e.g. 'beats uniform by 1.2 [0.4, 2.0] points'."""
    if i.n == 0:
        return f"has no twin runs at {baseline} to compare with"
    if i.n == 1 or not (i.clear or i.low == i.high):
        return f"makes no clear difference against {baseline} ({interval_text(i)})"
    if i.low == i.high:
        verb = "beats" if i.mean > 0 else "falls behind"
        return f"{verb} {baseline} by {points(abs(i.mean))} points on all {i.n} pairs"
    if i.mean > 0:
        return f"beats {baseline} by {points(i.mean)} [{points(i.low)}, {points(i.high)}] points"
    return f"falls behind {baseline} by {points(-i.mean)} [{points(-i.high)}, {points(-i.low)}] points"


def lost_words(row: pd.Series) -> str:
    """'6 of 12 runs did not learn against 0 of 12 at uniform', or '' when the counts are the same."""
    if row["lost_level"] == row["lost_baseline"]:
        return ""
    n = row["pairs"]
    return f"{row['lost_level']} of {n} runs did not learn, against {row['lost_baseline']} of {n} at {row['baseline']}"


def lost_text(row: pd.Series | dict) -> str:
    """The did-not-learn cell of the effect table: the runs of each side, and the paired change of the rate."""
    n, k, k0, change = row["pairs"], row["lost_level"], row["lost_baseline"], row["lost"]
    if change.n and change.low == change.high == 0:  # every pair the same: both learned, or neither
        return f"none of {n} at either level" if k == 0 else f"{k} of {n} at both levels"
    rate = interval_text(change).replace(" points", "")
    return f"{k} of {n}, against {k0} of {n} at {row['baseline']} (rate {rate} points)"


def strongest_interaction(inter: pd.DataFrame, axis: str, level: str) -> str | None:
    """The other axis along which this level's effect on accuracy changes the most, if any does."""
    mine = inter[(inter["axis"] == axis) & (inter["level"] == level) & inter["changes"]] if len(inter) else inter
    if mine.empty:
        return None
    size = mine["acc_change"].map(lambda i: abs(i.mean) if i.n else 0.0)
    return mine.loc[size.idxmax(), "by"]


def summary_sentence(row: pd.Series, inter: pd.DataFrame) -> str:
    """One sentence per level: its effect on accuracy (per level of the axis it interacts with most), and
    how many runs did not learn when that differs."""
    subject = f"{row['axis']} = {row['level']}"
    by = strongest_interaction(inter, row["axis"], row["level"])
    if by is None:
        said = accuracy_words(row["baseline"], row["acc"])
    else:
        mine = inter[(inter["axis"] == row["axis"]) & (inter["level"] == row["level"]) & (inter["by"] == by)]
        first = mine.iloc[0]
        parts = [f"{accuracy_words(row['baseline'], first['acc_at_baseline'])} at {by} = {first['by_baseline']}"]
        parts += [f"{accuracy_words(row['baseline'], r['acc_at'])} at {by} = {r['at']}" for _, r in mine.iterrows()]
        said = ", ".join(parts[:-1]) + " and " + parts[-1]
    lost = lost_words(row)
    return f"{subject} {said}" + (f"; {lost}" if lost else "") + "."


def depends_text(inter: pd.DataFrame, axis: str, level: str) -> str:
    """The effect table's 'changes with' cell: each other axis along which the effect changes, by how much."""
    mine = inter[(inter["axis"] == axis) & (inter["level"] == level) & inter["changes"]] if len(inter) else inter
    if mine.empty:
        return "—"
    return "; ".join(
        f"{r['by']} = {r['at']} (vs {r['by_baseline']}): {interval_text(r['acc_change'])}" for _, r in mine.iterrows()
    )


def effect_table(eff: pd.DataFrame, inter: pd.DataFrame) -> pd.DataFrame:
    """The effects as the report shows them: one row per level, its numbers as short phrases."""
    return pd.DataFrame(
        {
            "axis": eff["axis"],
            "level vs baseline": eff["level"] + " vs " + eff["baseline"],
            "test accuracy, level minus baseline": eff["acc"].map(interval_text),
            "runs that did not learn": eff.apply(lost_text, axis=1),
            "pairs": eff["pairs"],
            "effect on accuracy changes with": [depends_text(inter, a, lv) for a, lv in zip(eff["axis"], eff["level"])],
        }
    )


def effect_numbers(eff: pd.DataFrame) -> pd.DataFrame:
    """The effects as plain numbers (the csv a reader computes with): accuracy differences in points."""
    flat = eff.drop(columns=["acc", "lost"])
    for name in ("acc", "lost"):
        flat[f"{name}_mean"] = eff[name].map(lambda i: 100 * i.mean)
        flat[f"{name}_low"] = eff[name].map(lambda i: 100 * i.low)
        flat[f"{name}_high"] = eff[name].map(lambda i: 100 * i.high)
    return flat


def figure_rows(eff: pd.DataFrame, inter: pd.DataFrame) -> pd.DataFrame:
    """What the effects figure draws: per axis, each level's effect on accuracy over all its pairs, then, when
    it interacts with another axis, at each level of that axis (columns axis, label, mean, low, high, overall;
    points of accuracy)."""
    rows = []
    for _, r in eff.iterrows():
        shown = [(f"{r['level']} vs {r['baseline']}: all {r['pairs']} pairs", r["acc"], True)]
        if by := strongest_interaction(inter, r["axis"], r["level"]):
            mine = inter[(inter["axis"] == r["axis"]) & (inter["level"] == r["level"]) & (inter["by"] == by)]
            shown.append((f"at {by} = {mine.iloc[0]['by_baseline']}", mine.iloc[0]["acc_at_baseline"], False))
            shown += [(f"at {by} = {m['at']}", m["acc_at"], False) for _, m in mine.iterrows()]
        rows += [
            {"axis": r["axis"], "label": label, "mean": 100 * i.mean, "low": 100 * i.low, "high": 100 * i.high}
            | {"overall": overall}
            for label, i, overall in shown
        ]
    return pd.DataFrame(rows, columns=["axis", "label", "mean", "low", "high", "overall"])
