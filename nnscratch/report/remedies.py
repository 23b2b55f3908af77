"""'What fixes each failure': the failure x remedy matrix and the curves of each failure beside its
best remedy, from a claims file whose claims name a `failure` and a `remedy` (conf/claims_remedies.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nnscratch.claims import ClaimResult, select
from nnscratch.report.figures import DECISION_COLORS, save
from nnscratch.report.render import Section

VERDICT_COLORS = {
    "supported": DECISION_COLORS["holds"],
    "refuted": DECISION_COLORS["fails"],
    "inconclusive": DECISION_COLORS["undecided"],
    "conditional": "#8ab17d",
}


def check_op(spec: dict) -> str:
    return spec["checks"][0].get("op", ">=")


def remedy_table(claims: dict, results_: list[ClaimResult]) -> pd.DataFrame:
    """One row per (failure, remedy): the deciding check's measure over seeds, its interval, the verdict."""
    rows = []
    for spec, res in zip(claims["claims"], results_):
        check = res.checks[0]
        cells = check.cells
        row = {"failure": spec["failure"], "remedy": spec["remedy"], "measure": check.measure, "verdict": res.verdict}
        if not cells.empty:
            weakest = cells.loc[cells["margin"].idxmin()]
            if check_op(spec) in (">=", ">"):  # margin = measure - value
                low, high = weakest["low"] - weakest["margin"], weakest["high"] - weakest["margin"]
            else:  # margin = value - measure
                low, high = weakest["margin"] - weakest["high"], weakest["margin"] - weakest["low"]
            row |= {
                "mean": float(weakest["mean"]),
                "sd": float(weakest["sd"]),
                "low": float(weakest["mean"] + low),
                "high": float(weakest["mean"] + high),
                "seeds": int(weakest["seeds"]),
            }
        rows.append(row)
    columns = ["failure", "remedy", "measure", "verdict", "mean", "sd", "low", "high", "seeds"]
    return pd.DataFrame(rows, columns=columns)  # the columns even when no claim has runs (a pruned grid)


def matrix_figure(table: pd.DataFrame, path: Path) -> Path:
    """Failures down, remedies across; each cell coloured by its verdict, with mean ± sd over seeds."""
    failures = list(dict.fromkeys(table["failure"]))
    remedies = list(dict.fromkeys(table["remedy"]))
    fig, ax = plt.subplots(figsize=(1.45 * len(remedies) + 3, 1.05 * len(failures) + 1.6))
    for _, r in table.iterrows():
        i, j = failures.index(r["failure"]), remedies.index(r["remedy"])
        ax.add_patch(plt.Rectangle((j, i), 0.96, 0.92, color=VERDICT_COLORS[r["verdict"]], alpha=0.85))
        text = f"{r['mean']:+.3f}\n± {r['sd']:.3f}" if pd.notna(r.get("mean")) else "no runs"
        ax.text(j + 0.48, i + 0.46, f"{text}\n{r['verdict'].upper()}", ha="center", va="center", fontsize=7)
    measures = table.groupby("failure", sort=False)["measure"].first()
    ax.set_yticks(np.arange(len(failures)) + 0.46, [f"{f}\n({measures[f]})" for f in failures], fontsize=7)
    ax.set_xticks(np.arange(len(remedies)) + 0.48, remedies, rotation=35, ha="right", fontsize=7)
    ax.set_xlim(0, len(remedies))
    ax.set_ylim(len(failures), 0)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=c, label=v) for v, c in VERDICT_COLORS.items() if v in set(table.verdict)
    ]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=4, fontsize=7, frameon=False)
    ax.set_title("What fixes each failure: the deciding measure (mean ± sd over seeds) and the verdict", pad=22)
    return save(fig, path)


def runs_of(check: dict) -> dict:
    """The selection of the runs a check is about (for a contrast, its side `a`)."""
    return check.get("a") or check.get("select") or {}


def remedy_curves_figure(claims: dict, table: pd.DataFrame, runs: pd.DataFrame, hist: pd.DataFrame, path: Path) -> Path:
    """Per failure: the failing runs, its best remedy's runs and the reference, test (or train) accuracy
    against iteration, one thin line per seed and the mean thick."""
    specs = {(c["failure"], c["remedy"]): c for c in claims["claims"]}
    failures = list(dict.fromkeys(table["failure"]))
    fig, axs = plt.subplots(1, len(failures), figsize=(4 * len(failures), 3.4), squeeze=False, sharey=True)
    for ax, failure in zip(axs.flat, failures):
        mine = table[(table["failure"] == failure) & ~table["remedy"].str.startswith("none") & table["mean"].notna()]
        if mine.empty:
            continue
        best = mine.loc[mine["mean"].idxmax()]
        first = specs[(failure, best["remedy"])]["checks"][0]
        column = "train_acc" if first["measure"] == "train_acc" else "test_acc"
        for curve in curve_groups(specs[(failure, best["remedy"])], best["remedy"]):
            plot_runs(ax, hist, select(runs, curve.where), column, curve)
        ax.set_title(failure, fontsize=9)
        ax.set_xlabel("iteration")
        ax.set_ylabel(column.replace("_", " "))
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Each failure with and without its best remedy (thin: one seed; thick: mean)")
    fig.tight_layout()
    return save(fig, path)


@dataclass(frozen=True)
class Curve:
    """One group of runs on a remedy's learning curves: its legend label, which runs (a selection, as
    the claims file writes them) and its colour."""

    label: str
    where: dict
    color: str


def curve_groups(spec: dict, remedy: str) -> list[Curve]:
    """The curves of the failing runs, the remedy's and, for a contrast, the reference."""
    first = spec["checks"][0]
    groups = [Curve("failing", spec["failing"], "#e76f51"), Curve(f"best: {remedy}", runs_of(first), "#2a9d8f")]
    return groups + ([Curve("reference", first["b"], "#6c757d")] if first.get("b") else [])


def plot_runs(ax, hist: pd.DataFrame, chosen: pd.DataFrame | None, column: str, curve: Curve) -> None:
    """One thin line per run of `chosen` (curve.where's runs) and their mean thick; the failing runs'
    mean dashed, on top (a remedy that only adds iterations retraces it first)."""
    label, color = curve.label, curve.color
    ids = set(chosen["run_id"]) if chosen is not None else set()
    h = hist[hist["run_id"].isin(ids)]
    for _, one in h.groupby("run_id"):
        ax.plot(one["iteration"], one[column], color=color, lw=0.6, alpha=0.35)
    if h.empty:
        return
    mean = h.groupby("iteration")[column].mean()
    dashed = label == "failing"
    style = {"ls": "--", "zorder": 3} if dashed else {"ls": "-", "zorder": 2}
    ax.plot(mean.index, mean.values, color=color, lw=2, label=label, **style)


def remedy_section(claims: dict, results_: list[ClaimResult], runs, hist, fig_dir: Path) -> Section | None:
    """The report section, or None when the claims file names no failures and remedies."""
    if not all("failure" in c and "remedy" in c for c in claims.get("claims", [])) or not claims.get("claims"):
        return None
    table = remedy_table(claims, results_)
    figs = [("Failure × remedy", matrix_figure(table, fig_dir / "remedy_matrix.png"))]
    if not hist.empty:
        figs.append(("Learning curves", remedy_curves_figure(claims, table, runs, hist, fig_dir / "remedy_curves.png")))
    text = [
        "Each failure of the log (rows) against the changes that might fix it (columns). The number is the "
        "deciding check's measure, mean ± sd over seeds: the paired difference in test accuracy from the healthy "
        "reference on the same seed (0 = as good; the threshold is −0.01), or the train accuracy reached. "
        "'none (as in the log)' is the failure itself. Verdicts come from the same engine as the log's claims."
    ]
    return Section("What fixes each failure", text, tables=[("Failure × remedy", table)], figures=figs, level=2)
