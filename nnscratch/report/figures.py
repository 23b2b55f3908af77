"""The report's figures (seaborn/matplotlib), each readable alone: title, labelled axes, legend.

Every function takes the results table (plus histories where needed) and the sweep's axes, and
writes one PNG. Which axes go where is decided from the data: the architecture x subset heatmap
when the sweep has both, otherwise its first two varying factors.
"""

from __future__ import annotations

import itertools
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
logging.getLogger("matplotlib.category").setLevel(logging.WARNING)  # its notes on string axes are noise here
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from nnscratch.report.tables import factors, with_outcome  # noqa: E402

OUTCOME_COLORS = {"ok": "#2a9d8f", "collapsed": "#e76f51", "diverged": "#7b2cbf", "failed": "#6c757d"}
PREFERRED_GRID = ("model.hidden", "data.subset")
DPI = 110
MAX_RUNS_DRAWN = 2000  # figures with a mark per run draw a fixed random sample of a larger grid
MAX_CURVES = 200  # more cells than this: learning curves by factor level, not by cell


NULL = "null"  # how a missing axis value (YAML null, e.g. train.batch_size: null = full batch) is drawn


def null_levels(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """The runs with every missing value of an axis written as the level "null", so that a grid with a
    null on an axis draws it as a level of its own (results.csv reads it back as NaN)."""
    cols = [a for a in axes if a in runs.columns and runs[a].isna().any()]
    return runs.assign(**{a: runs[a].astype(object).where(runs[a].notna(), NULL) for a in cols})


def drawn(runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(the runs a per-run figure draws, a note for its title): all, or a fixed sample of a large grid."""
    if len(runs) <= MAX_RUNS_DRAWN:
        return runs, ""
    return runs.sample(MAX_RUNS_DRAWN, random_state=0), f" — a random {MAX_RUNS_DRAWN:,} of {len(runs):,} runs"


def save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


@contextmanager
def alone(ax):
    """The figure's other axes hidden while `ax` is drawn on: seaborn's heatmap draws the whole figure to
    check whether its tick labels overlap, which made a figure of n panels cost n²/2 panel draws."""
    others = [a for a in ax.figure.axes if a is not ax and a.get_visible()]
    for a in others:
        a.set_visible(False)
    try:
        yield ax
    finally:
        for a in others:
            a.set_visible(True)


@contextmanager
def fixed_jitter(seed: int = 0):
    """seaborn's stripplot jitters its points with NumPy's global random state: seeded here, and the
    caller's state put back, so that the same runs always draw the same PNG."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def heat_axes(runs: pd.DataFrame, axes: list[str]) -> tuple[str | None, str | None, list[str]]:
    """(row axis, column axis, panel axes) for the heatmaps."""
    varying = factors(runs, axes)
    grid = [a for a in PREFERRED_GRID if a in varying] or varying[:2]
    grid = grid + [a for a in varying if a not in grid][: 2 - len(grid)]
    rows, cols = (grid + [None, None])[:2]
    return rows, cols, [a for a in varying if a not in grid]


def level_order(values: pd.Series) -> list:
    """Levels sorted numerically where they are numbers or lists of numbers ("[64,32]")."""

    def key(v):
        text = str(v).strip("[]")
        try:
            return (0, [float(x) for x in text.split(",")])
        except ValueError:
            return (1, [text])

    return sorted(values.dropna().unique(), key=key)


def panel_combos(runs: pd.DataFrame, panels: list[str]) -> list[dict]:
    """Every combination of panel-axis levels that has runs."""
    if not panels:
        return [{}]
    present = runs.groupby(panels, dropna=False).size().index
    return [dict(zip(panels, combo if isinstance(combo, tuple) else (combo,))) for combo in present]


def cell_labels(cell: pd.DataFrame) -> tuple[float, str, bool]:
    """(mean test accuracy, annotation, whether most seeds failed to learn)."""
    mean, std = cell["test_acc"].mean(), cell["test_acc"].std()
    bad = cell["outcome"].isin(["collapsed", "diverged", "failed"]).mean() > 0.5
    word = cell["outcome"].mode().iloc[0] if bad else ""
    text = f"{mean:.2f}" + (f"\n±{std:.2f}" if len(cell) > 1 else "") + (f"\n{word.upper()}" if word else "")
    return mean, text, bad


@dataclass(frozen=True)
class HeatGrid:
    """A heatmap's cells: the row axis and column axis (None: one row or column, "all") and their levels."""

    rows: str | None
    cols: str | None
    row_levels: list
    col_levels: list


def draw_heatmap(ax, sub: pd.DataFrame, grid: HeatGrid, cbar_ax) -> None:
    """One annotated panel of the runs `sub`: mean test accuracy per cell, failures outlined in red."""
    rows, cols, row_levels, col_levels = grid.rows, grid.cols, grid.row_levels, grid.col_levels
    values = np.full((len(row_levels), len(col_levels)), np.nan)
    labels = np.full(values.shape, "", dtype=object)
    for (i, r), (j, c) in itertools.product(enumerate(row_levels), enumerate(col_levels)):
        cell = sub[
            (sub[rows].astype(str) == str(r) if rows else True) & (sub[cols].astype(str) == str(c) if cols else True)
        ]
        if len(cell):
            values[i, j], labels[i, j], bad = cell_labels(cell)
            if bad:
                ax.add_patch(plt.Rectangle((j + 0.04, i + 0.04), 0.92, 0.92, fill=False, ec="red", lw=2.5, zorder=3))
    sns.heatmap(
        values,
        annot=labels,
        fmt="",
        vmin=0,
        vmax=1,
        cmap="viridis",
        ax=ax,
        cbar=cbar_ax is not None,
        cbar_ax=cbar_ax,
        cbar_kws={"label": "test accuracy (mean over seeds)"},
        xticklabels=[str(c) for c in col_levels],
        yticklabels=[str(r) for r in row_levels],
        annot_kws={"fontsize": 8},
        linewidths=0.5,
        linecolor="white",
    )
    ax.set_xlabel(cols or "")
    ax.set_ylabel(rows or "")


def facet_levels(runs: pd.DataFrame, rows: str | None, cols: str | None) -> tuple[list, list]:
    """(row levels, column levels) of these runs: a dataset's own subsets, not every dataset's."""
    return (level_order(runs[rows]) if rows else ["all"]), (level_order(runs[cols]) if cols else ["all"])


def collapse_heatmaps(
    runs: pd.DataFrame,
    axes: list[str],
    path: Path,
    facet: str | None = None,
    title: str = "Collapse vs success: test accuracy per cell",
) -> Path:
    """Heatmaps of test accuracy (rows x cols), one panel per combination of the other axes;
    with a `facet` (e.g. dataset) its levels side by side in columns, one colour scale for all."""
    runs = null_levels(runs, axes)
    runs = with_outcome(runs)
    rows, cols, panels = heat_axes(runs, axes)
    panels = [p for p in panels if p != facet]
    combos = panel_combos(runs, panels)
    facets = list(pd.unique(runs[facet])) if facet else [None]  # in the order given
    grids = {
        f: HeatGrid(rows, cols, *facet_levels(runs if f is None else runs[runs[facet] == f], rows, cols))
        for f in facets
    }
    row_levels = max((g.row_levels for g in grids.values()), key=len)  # for the figure's size
    col_levels = max((g.col_levels for g in grids.values()), key=len)
    cells = [(combo, f) for combo in combos for f in facets]  # a facet's levels sit next to each other
    ncols = len(facets) if facet else min(4, len(combos))
    nrows = int(np.ceil(len(cells) / ncols))
    lines = len(panels) + bool(facet)  # lines of each panel's title
    cell_h = 0.9 * len(row_levels)
    gap = 0.17 * lines + 0.6  # inches for a panel's title and x label
    w, fig_h = 1.3 * len(col_levels) + 1.6, (cell_h + gap) * nrows + 0.9
    fig, grid = plt.subplots(nrows, ncols, figsize=(w * ncols + 1.2, fig_h), squeeze=False)
    cbar_ax = fig.add_axes([0.92, 0.3, 0.012, 0.4])
    for k, (ax, (combo, level)) in enumerate(zip(grid.flat, cells)):
        shown = {facet: level, **combo} if facet else combo
        mask = np.ones(len(runs), bool)
        for axis, value in shown.items():
            mask &= runs[axis].astype(str) == str(value)
        with alone(ax):
            draw_heatmap(ax, runs[mask], grids[level], cbar_ax if k == 0 else None)
        ax.set_title("\n".join(f"{a} = {v}" for a, v in shown.items()) or "all runs", fontsize=9)
    for ax in list(grid.flat)[len(cells) :]:
        ax.axis("off")
    fig.suptitle(f"{title}\n(red box, capital word: most seeds collapsed/diverged)", y=1 - 0.1 / fig_h)
    fig.subplots_adjust(
        right=0.9, top=1 - (0.7 + 0.17 * lines) / fig_h, bottom=0.5 / fig_h, hspace=gap / cell_h, wspace=0.45
    )
    return save(fig, path)


def strip_by_factor(runs: pd.DataFrame, axes: list[str], path: Path) -> Path:
    """Test accuracy of every run against each factor, coloured by outcome."""
    runs = null_levels(runs, axes)
    runs, note = drawn(with_outcome(runs))
    fs = factors(runs, axes) or ["seed"]
    fig, grid = plt.subplots(1, len(fs), figsize=(3.2 * len(fs), 3.8), squeeze=False, sharey=True)
    for ax, factor in zip(grid.flat, fs):
        with fixed_jitter():
            sns.stripplot(
                runs,
                x=factor,
                y="test_acc",
                hue="outcome",
                palette=OUTCOME_COLORS,
                order=level_order(runs[factor]),
                jitter=0.25,
                size=4,
                alpha=0.8,
                ax=ax,
                legend=ax is grid.flat[-1],
            )
        ax.set_ylabel("final test accuracy")
        ax.set_ylim(0, 1)
    if grid.flat[-1].get_legend():
        sns.move_legend(grid.flat[-1], "upper left", bbox_to_anchor=(1, 1), title="outcome")
    fig.suptitle(f"Every run: final test accuracy by factor (one point per run and seed){note}")
    return save(fig, path)


def parallel_coordinates(runs: pd.DataFrame, axes: list[str], path: Path) -> Path:
    """The whole grid as lines through each factor's levels to the final test accuracy, coloured by outcome."""
    runs = null_levels(runs, axes)
    runs, note = drawn(with_outcome(runs))
    fs = factors(runs, axes)
    fig, ax = plt.subplots(figsize=(1.8 * (len(fs) + 1) + 2, 4.5))
    rng = np.random.default_rng(0)
    positions = {}
    for f in fs:
        levels = level_order(runs[f])
        positions[f] = {str(lvl): i / max(len(levels) - 1, 1) for i, lvl in enumerate(levels)}
    for _, run in runs.iterrows():
        ys = [positions[f][str(run[f])] + rng.uniform(-0.03, 0.03) for f in fs]
        ax.plot(
            range(len(fs) + 1),
            [*ys, run["test_acc"] if pd.notna(run["test_acc"]) else 0],
            color=OUTCOME_COLORS[run["outcome"]],
            alpha=0.35,
            lw=1,
        )
    for i, f in enumerate(fs):
        for level, y in positions[f].items():
            ax.annotate(
                level,
                (i, y),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=8,
                va="center",
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8, "lw": 0},
            )
    ax.set_xticks(range(len(fs) + 1), [*fs, "test accuracy"])
    ax.set_ylabel("level (factors) / final test accuracy")
    ax.set_ylim(-0.08, 1.08)
    handles = [plt.Line2D([], [], color=c, lw=2) for c in OUTCOME_COLORS.values()]
    ax.legend(handles, OUTCOME_COLORS.keys(), title="outcome", loc="upper left", bbox_to_anchor=(1, 1))
    ax.set_title(f"The grid in parallel coordinates: each line is one run{note}")
    return save(fig, path)


def learning_curves(runs: pd.DataFrame, histories: pd.DataFrame, axes: list[str], path: Path) -> Path:
    """Train and test accuracy against iteration: one line per cell (mean over seeds, band = ±1 sd
    over seeds), coloured by the level of the panel's factor. Averaging whole levels would blend
    runs that collapse with runs that learn into a curve no run follows; a grid of more than
    MAX_CURVES cells is drawn so anyway (one line per level of the panel's factor), and says so."""
    runs = null_levels(runs, axes)
    fs = [f for f in factors(runs, axes) if f != "train.iterations"] or ["seed"]
    cell = [f for f in factors(runs, axes) if f != "seed"]
    by_cell = not cell or len(runs.groupby(cell, dropna=False)) <= MAX_CURVES
    hist = histories.merge(runs[["run_id", *dict.fromkeys([*fs, *cell])]], on="run_id")
    if "train.iterations" in runs.columns and runs["train.iterations"].nunique() > 1:
        common = runs["train.iterations"].mode().iloc[0]  # keep the longer product's tail from stretching the axis
        hist = hist[hist["iteration"] <= common]
    fig, grid = plt.subplots(2, len(fs), figsize=(3.4 * len(fs), 6.4), squeeze=False, sharey=True, layout="constrained")
    for j, f in enumerate(fs):
        keys = cell if by_cell else [f]
        curves = hist.groupby([*keys, "iteration"], dropna=False)[["train_acc", "test_acc"]].agg(["mean", "std"])
        curves = curves.reset_index()
        levels = [str(v) for v in level_order(hist[f])]
        colors = dict(zip(levels, sns.color_palette(n_colors=len(levels))))
        for i, metric in enumerate(("train_acc", "test_acc")):
            ax = grid[i, j]
            for _, c in curves.groupby(keys, dropna=False) if keys else [(None, curves)]:
                color = colors[str(c[f].iloc[0])] if f in c else "C0"
                mean, sd = c[(metric, "mean")], c[(metric, "std")].fillna(0)
                ax.plot(c["iteration"], mean, color=color, lw=1, alpha=0.8)
                ax.fill_between(c["iteration"], mean - sd, mean + sd, color=color, alpha=0.12, lw=0)
            ax.legend(
                [plt.Line2D([], [], color=colors[lv]) for lv in levels], levels, title=f, fontsize=8, title_fontsize=8
            )
            ax.set(xlabel="iteration", ylabel=metric.replace("_acc", " accuracy"), ylim=(0, 1))
            ax.set_title(f"coloured by {f}", fontsize=9)
    by = "cell, mean over seeds, band = ±1 sd over seeds" if by_cell else "level, mean over all else, band = ±1 sd"
    fig.suptitle(f"Learning curves: one line per {by}")
    return save(fig, path)


CONDITIONS = ("data.scaling", "weights", "biases")  # what decides whether ReLU units die


def unit_diagnostics(runs: pd.DataFrame, histories: pd.DataFrame, axes: list[str], path: Path) -> Path:
    """Dead ReLU units (at init and at the end, as fractions in [0, 1]) and distinct hidden units, per
    condition (scaling x weights x biases, those that vary): every run as a point, the mean with a
    95 % bootstrap interval (which stays within the runs' values, so within [0, 1])."""
    runs = null_levels(runs, axes)
    varying = factors(runs, axes)
    conds = [f for f in CONDITIONS if f in varying] or [f for f in varying if f != "seed"][:1] or ["seed"]
    done = runs[runs["status"] == "finished"].copy()
    start = histories[histories["iteration"] == 0][["run_id", "dead_l1"]].rename(columns={"dead_l1": "dead_l1_init"})
    done = done.merge(start, on="run_id", how="left")
    done["condition"] = done[conds].astype(str).agg(" · ".join, axis=1)
    order = sorted(done["condition"].unique())
    rows = [
        ("dead_l1_init", "dead units at init (fraction)", (-0.03, 1.03)),
        ("dead_l1", "dead units at end (fraction)", (-0.03, 1.03)),
        ("distinct_l1", "distinct hidden units at end", (0, None)),
    ]
    fig, grid = plt.subplots(len(rows), 1, figsize=(max(6, 0.9 * len(order) + 2), 9), sharex=True, layout="constrained")
    points, _ = drawn(done)
    for ax, (col, label, ylim) in zip(grid, rows):
        with fixed_jitter():
            sns.stripplot(
                points, x="condition", y=col, order=order, color="#457b9d", alpha=0.35, size=3, jitter=0.25, ax=ax
            )
        sns.pointplot(
            done, x="condition", y=col, order=order, errorbar=("ci", 95), seed=0, color="black",
            markers="D", linestyles="none", ax=ax,
        )  # fmt: skip
        ax.set(ylabel=label, xlabel=" · ".join(conds), ylim=ylim)
    grid[-1].tick_params(axis="x", labelrotation=30)
    fig.suptitle("Hidden layer 1 per condition: dead ReLU units (never active on the training set), distinct units")
    return save(fig, path)


def overfitting(runs: pd.DataFrame, axes: list[str], path: Path) -> Path:
    """Train − test accuracy gap by architecture and subset, over runs that learned."""
    runs = null_levels(runs, axes)
    ok = runs[runs["outcome"] == "ok"].assign(gap=lambda d: d["train_acc"] - d["test_acc"])
    fs = factors(runs, axes)
    x = "model.hidden" if "model.hidden" in fs else (fs[0] if fs else "seed")
    hue = "data.subset" if "data.subset" in fs and x != "data.subset" else None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if len(ok):
        sns.barplot(
            ok, x=x, y="gap", hue=ok[hue].astype(str) if hue else None, order=level_order(ok[x]), errorbar="sd", ax=ax
        )
        if hue:
            ax.legend(title=hue)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("train − test accuracy (runs that learned)")
    ax.set_title("Overfitting: train − test gap (mean ± sd)")
    return save(fig, path)


DECISION_COLORS = {"holds": "#2a9d8f", "fails": "#e76f51", "undecided": "#f4a261", "split": "#9b5de5"}


def claim_intervals(claims: list, path: Path) -> Path:
    """Per claim (its deciding check), per cell: each seed's margin (dots), the mean and its confidence
    interval (bar), coloured by the cell's decision; the threshold is the line at 0."""
    shown = [c for c in claims if not c.checks[0].cells.empty]
    heights = [max(1.2, 0.32 * len(c.checks[0].cells) + 0.8) for c in shown] or [1.0]
    fig, axs = plt.subplots(
        len(heights), 1, figsize=(9, sum(heights) + 0.6), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for ax, claim in zip(axs.flat, shown):
        draw_intervals(ax, claim.checks[0].cells)
        ax.set_title(f"{claim.title} — {claim.verdict.upper()}", fontsize=9, loc="left")
    for ax in axs.flat[len(shown) :]:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no claim has runs in this sweep", ha="center", va="center")
    axs.flat[-1].set_xlabel("margin (measure − threshold, positive = passes)")
    handles = [plt.Line2D([], [], color=c, lw=3, label=f"cell {d}") for d, c in DECISION_COLORS.items()]
    fig.suptitle("How sure each verdict is: seeds, mean and confidence interval per cell")
    fig.tight_layout()
    # below the x label, clear of every title (above the panels it sat on the figure's title)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=7, frameon=False)
    return save(fig, path)


def draw_intervals(ax, cells: pd.DataFrame) -> None:
    from nnscratch.claims import cell_name

    for y, i in enumerate(cells.index):
        color = DECISION_COLORS[cells.at[i, "decision"]]
        margins = cells.at[i, "margins"]
        ax.scatter(
            margins,
            np.full(len(margins), y) + np.linspace(-0.15, 0.15, len(margins)),
            s=10,
            color=color,
            alpha=0.6,
            zorder=2,
        )
        low, high = cells.at[i, "low"], cells.at[i, "high"]
        if np.isfinite(low):
            ax.plot([low, high], [y, y], color=color, lw=3, alpha=0.8, zorder=1)
        ax.plot(cells.at[i, "margin"], y, "|", color="black", ms=12, zorder=3)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(cells)), [cell_name(cells, i) for i in cells.index], fontsize=7)
    ax.set_ylim(-0.6, len(cells) - 0.4)
    ax.invert_yaxis()
    ax.tick_params(axis="x", labelsize=7)


def effects_forest(rows: pd.DataFrame, path: Path, confidence: float) -> Path:
    """One panel per axis: each level's paired effect on test accuracy against the axis's baseline (points,
    mean and interval; black over all pairs, blue at each level of the axis it interacts with); 0 dashed."""
    axes_ = list(dict.fromkeys(rows["axis"]))
    heights = [0.42 * (rows["axis"] == a).sum() + 0.9 for a in axes_]
    fig, grid = plt.subplots(
        len(axes_), 1, figsize=(8, sum(heights) + 0.5), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for ax, axis in zip(grid.flat, axes_):
        mine = rows[rows["axis"] == axis].reset_index(drop=True)
        y = np.arange(len(mine))[::-1]
        for yi, (_, r) in zip(y, mine.iterrows()):
            color = "black" if r["overall"] else "#457b9d"
            if np.isfinite(r["low"]):
                ax.plot([r["low"], r["high"]], [yi, yi], color=color, lw=2)
            ax.plot(r["mean"], yi, "o", color=color, ms=5)
        ax.axvline(0, color="grey", ls="--", lw=0.8)
        ax.set_yticks(y, mine["label"], fontsize=8)
        ax.set_ylim(-0.6, len(mine) - 0.4)
        ax.set_title(axis, fontsize=10, loc="left")
    grid.flat[-1].set_xlabel("test accuracy, level minus baseline (points; same seed, same other axes)")
    fig.suptitle(f"What each axis does to test accuracy: mean over twin pairs, {confidence:.0%} paired interval")
    fig.tight_layout()
    return save(fig, path)
