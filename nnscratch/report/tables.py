"""The report's tables, from results.csv and the sweep's axes (never a hard-coded list of factors)."""

from __future__ import annotations

import itertools

import pandas as pd

from nnscratch.diagnostics import OUTCOMES
from nnscratch.results import SEED


def factors(runs: pd.DataFrame, axes: list[str]) -> list[str]:
    """The axes that vary across the sweep's runs, seed excluded."""
    return [a for a in axes if a != SEED and a in runs.columns and runs[a].nunique(dropna=False) > 1]


def with_outcome(runs: pd.DataFrame) -> pd.DataFrame:
    """Failed runs get outcome 'failed', so every run has one."""
    return runs.assign(outcome=runs["outcome"].where(runs["status"] == "finished", "failed"))


def mean_std(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def pivot(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Test accuracy, mean ± std over seeds, one row per cell, with the cell's outcomes."""
    keys = factors(runs, axes)
    done = runs[runs["status"] == "finished"]
    if not keys:
        return pd.DataFrame({"test_acc": [mean_std(done["test_acc"])], "seeds": [len(done)]})
    grouped = done.groupby(keys, dropna=False)
    table = grouped["test_acc"].agg(["mean", "std", "size"]).rename(columns={"size": "seeds"})
    table["outcomes"] = grouped["outcome"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))
    return table.reset_index()


def main_effects(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Per factor and level: mean test accuracy, std over seeds and cells, change from the first level."""
    done = runs[runs["status"] == "finished"]
    rows = []
    for factor in factors(runs, axes):
        levels = done.groupby(factor, dropna=False)["test_acc"].agg(["mean", "std", "size"])
        base = levels["mean"].iloc[0]
        for level, row in levels.iterrows():
            rows.append(
                {
                    "factor": factor,
                    "level": level,
                    "mean test acc": row["mean"],
                    "std": row["std"],
                    "runs": int(row["size"]),
                    "change vs first level": row["mean"] - base,
                }
            )
    return pd.DataFrame(rows)


def effect(frame: pd.DataFrame, factor: str) -> float:
    """The range of a factor's level means (for two levels: how much switching it changes accuracy)."""
    means = frame.groupby(factor, dropna=False)["test_acc"].mean()
    return float(means.max() - means.min()) if len(means) > 1 else float("nan")


def effect_across_levels(runs: pd.DataFrame, axes: list[str], threshold: float = 0.05) -> pd.DataFrame:
    """For each ordered pair (A, B): A's effect at each level of B. When it moves by more than
    `threshold` across B's levels, A matters only in combination with B: 'depends' is True."""
    done = runs[runs["status"] == "finished"]
    rows = []
    for a, b in itertools.permutations(factors(runs, axes), 2):
        at_level = {lvl: effect(g, a) for lvl, g in done.groupby(b, dropna=False)}
        values = pd.Series(at_level).dropna()
        if len(values) < 2:
            continue
        spread = float(values.max() - values.min())
        rows.append(
            {
                "factor": a,
                "by": b,
                "effect of factor at each level of by": "; ".join(f"{b}={k}: {v:+.3f}" for k, v in values.items()),
                "spread": spread,
                "depends": spread > threshold,
            }
        )
    return pd.DataFrame(rows).sort_values("spread", ascending=False) if rows else pd.DataFrame(rows)


def outcome_counts(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Runs per outcome (ok / collapsed / diverged / failed) at each level of each factor."""
    runs = with_outcome(runs)
    frames = []
    for factor in factors(runs, axes):
        levels = runs[factor].astype(object).where(runs[factor].notna(), "null")  # crosstab drops NaN levels
        counts = pd.crosstab(levels.rename(factor), runs["outcome"]).reindex(columns=list(OUTCOMES), fill_value=0)
        frames.append(counts.reset_index().rename(columns={factor: "level"}).assign(factor=factor))
    cols = ["factor", "level", *OUTCOMES]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def all_runs(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """One row per run: the parameters that vary, outcome, final and best test accuracy, seconds, command."""
    keep = [*factors(runs, axes), SEED] if SEED in runs.columns else factors(runs, axes)
    cols = [*keep, "outcome", "test_acc", "best_test_acc", "train_acc", "seconds", "command"]
    cols[len(keep) + 1 : len(keep) + 1] = [c for c in ("diagnosis", "diagnoses") if c in runs.columns]
    return with_outcome(runs)[cols].sort_values(keep).reset_index(drop=True)
