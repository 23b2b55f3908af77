"""The sections of one sweep's report: its header, the claims, the adaptive rounds and remedies,
then collapse vs success, every run, the units, overfitting and the tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from nnscratch.claims import confidence, design, evaluate, for_dataset, method_text
from nnscratch.report import diagnoses, effects, figures, tables
from nnscratch.report.load import Sweep
from nnscratch.report.networks import network_section
from nnscratch.report.remedies import remedy_section
from nnscratch.report.render import Section
from nnscratch.report.repairs import repairs_section
from nnscratch.report.rounds import rounds_section
from nnscratch.report.verdicts import HOW_SURE, claim_sections, tested, untested_line
from nnscratch.results import SEED

UNIT_CAPTION = (
    "Dead first-layer ReLU units at init and at the end, and distinct units, per condition (input scaling × "
    "weights × biases): every run a point, the mean with its 95 % bootstrap interval."
)


def sweep_header(s: Sweep) -> Section:
    """What ran, in two lines: the runs, the grid's axes and levels, the outcomes, the time and the folder."""
    runs = tables.with_outcome(s.runs)
    order = effects.grid_order(s.record)
    varying, fixed = [], []
    for a in [a for a in s.axes if a in runs.columns and a != SEED]:
        levels = effects.baseline_and_levels(runs.assign(**{a: runs[a].map(effects.level_text)}), a, order)
        if len(levels) > 1:
            varying.append(f"{a} ({', '.join(levels)})")
        else:
            fixed.append(f"{a} = {levels[0]}")
    seeds = runs.groupby(tables.factors(runs, s.axes), dropna=False).size() if varying else pd.Series([len(runs)])
    per_cell = str(seeds.min()) if seeds.min() == seeds.max() else f"{seeds.min()} to {seeds.max()}"
    counts = runs["outcome"].value_counts()
    sessions = s.record.get("sessions") or []
    wall = sum(x.get("wall_seconds", 0) for x in sessions) / 60
    took = f"{wall:.1f} min of wall time" + (f" over {len(sessions)} sessions" if len(sessions) > 1 else "")
    text = [
        f"**{len(runs)} runs** of grid '{s.name}' on {s.dataset}: "
        + (" × ".join(varying) if varying else "a single cell")
        + f", {per_cell} seeds per cell"
        + (f" (fixed: {', '.join(fixed)})" if fixed else "")
        + ". Outcomes: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + ".",
        (took + ". " if sessions else "")
        + f"Folder: `{s.path}`; every run's command is in the [All runs](#tables) table.",
    ]
    return Section(f"Sweep {s.name} ({s.dataset})", text, level=2)


def sweep_sections(s: Sweep, claims: dict, out: Path, tag: str) -> list[Section]:
    """Every section of one sweep's report, in reading order; figures go to out/figures/<tag><name>.png."""
    fig_dir = out / "figures"
    runs, hist, axes = s.runs, s.histories, s.axes
    f = lambda name: fig_dir / f"{tag}{name}.png"
    heat = figures.collapse_heatmaps(
        runs, axes, f("collapse_heatmaps"), title=f"Collapse vs success on {s.dataset}: test accuracy per cell"
    )
    sections = [sweep_header(s), *network_section(s), answer_section(s, confidence(claims), f)]
    specs = for_dataset(claims, s.dataset)
    verdicts = evaluate(specs, runs, hist, axes)
    judged = [v for v in verdicts if tested(v)]
    untested = untested_line(verdicts, specs["claims"], runs, claims.get("file", "the claims file"))
    diag = diagnoses.diagnose_sweep(s.path, runs, hist)
    if judged:
        intervals = figures.claim_intervals(judged, f("claim_intervals"))
        per_claim = claim_sections(judged, f"{s.name} on {s.dataset}", confidence(claims), intervals, claims)
        per_claim[0].notes += [untested] if untested else []
        diagnoses.cite_in_claims(per_claim[1:], judged, diag)
        sections += per_claim
    if extra := rounds_section(s):
        sections.append(extra)
    if fixes := remedy_section(claims, verdicts, runs, hist, fig_dir):
        sections.append(fixes)
    sections.append(diagnoses.diagnosis_section(s, diag, claims, verdicts, out, tag))
    if repairs := repairs_section(s.path):
        sections.append(repairs)
    sections += [collapse_section(heat), every_run_section(runs, axes, f)]
    sections += unit_sections(runs, hist, axes, f) if not hist.empty else []
    sections += [
        overfitting_section(runs, axes, f),
        tables_section(runs, axes, diagnoses.runs_with_diagnosis(runs, diag)),
    ]
    if judged:
        sections.append(Section("How sure the verdicts are", [method_text(design(claims))], anchor=HOW_SURE))
    return sections + ([Section("Claims", [untested], level=2)] if untested and not judged else [])


def answer_section(s: Sweep, level: float, f: Callable[[str], Path]) -> Section:
    """What the grid varied, answered: the effect table, a sentence per level, and the figure."""
    order = effects.grid_order(s.record)
    eff = effects.effects(s.runs, s.axes, order, level)
    title = "What this grid varied"
    if eff.empty:
        return Section(title, ["Every axis of this grid has a single level: there is nothing to compare."])
    inter = effects.interactions(s.runs, s.axes, order, level)
    said = "\n".join(f"- {effects.summary_sentence(r, inter)}" for _, r in eff.iterrows())
    how = (
        "How to read it: each level against its axis's first level as the grid lists it, on twin runs (same seed, "
        f"same level of every other axis): the mean difference and its {level:.0%} paired t interval over the pairs "
        "— a description of this grid, not a verdict. 'Changes with': another axis along which the effect differs "
        "(the paired difference of the two effects has an interval clear of 0)."
    )
    figure = figures.effects_forest(effects.figure_rows(eff, inter), f("effects"), level)
    return Section(
        title,
        tables=[("Each level against its axis's first level", effects.effect_table(eff, inter))],
        notes=[said, how],
        figures=[("Each axis's effect on test accuracy, over all pairs and where it changes", figure)],
        anchor="what_this_grid_varied",
    )


def collapse_section(heat: Path) -> Section:
    shown = "Mean test accuracy over seeds per cell (± sd); cells where most seeds collapsed or diverged are boxed"
    caption = "Mean test accuracy over seeds per cell; red boxes: most seeds collapsed or diverged."
    return Section("Collapse vs success", [f"{shown} in red."], figures=[(caption, heat)], level=2)


def every_run_section(runs: pd.DataFrame, axes: list[str], f: Callable[[str], Path]) -> Section:
    strip = figures.strip_by_factor(runs, axes, f("strip_by_factor"))
    lines = figures.parallel_coordinates(runs, axes, f("parallel_coordinates"))
    return Section(
        "Every run",
        [],
        figures=[
            ("Final test accuracy of every run by factor, coloured by outcome.", strip),
            ("Each line is one run: its level on every factor, then its final test accuracy.", lines),
        ],
        level=2,
    )


def unit_sections(runs: pd.DataFrame, hist: pd.DataFrame, axes: list[str], f: Callable[[str], Path]) -> list[Section]:
    """Learning curves, and the dead and distinct units, from the runs' histories."""
    curves = figures.learning_curves(runs, hist, axes, f("learning_curves"))
    units = figures.unit_diagnostics(runs, hist, axes, f("unit_diagnostics"))
    caption = "Train and test accuracy against iteration, one line per cell (mean over seeds, band ±1 sd)."
    return [
        Section("Learning curves", [], figures=[(caption, curves)], level=2),
        Section("Dead and distinct hidden units", [], figures=[(UNIT_CAPTION, units)], level=2),
    ]


def overfitting_section(runs: pd.DataFrame, axes: list[str], f: Callable[[str], Path]) -> Section:
    gap = figures.overfitting(runs, axes, f("overfitting"))
    caption = "Train − test accuracy gap per cell: how far a net fits its training set beyond the test set."
    return Section("Overfitting", [], figures=[(caption, gap)], level=2)


def tables_section(runs: pd.DataFrame, axes: list[str], every_run: pd.DataFrame) -> Section:
    """The factor tables of `runs`, and `every_run` (the runs with their diagnoses) sortable."""
    return Section(
        "Tables",
        [
            "Interactions: a factor's effect (range of its level means) at each level of another factor; "
            "'depends' marks pairs where it moves by more than 0.05, "
            "i.e. a factor that matters only in combination."
        ],
        tables=[
            ("Main effects", tables.main_effects(runs, axes)),
            ("Interactions", tables.effect_across_levels(runs, axes)),
            ("Outcome counts by factor", tables.outcome_counts(runs, axes)),
            ("Test accuracy per cell (mean, std over seeds)", tables.pivot(runs, axes)),
            ("All runs", tables.all_runs(every_run, axes)),
        ],
        level=2,
        sortable=("All runs",),
    )
