"""A sweep directory (or several, differing only in dataset) -> report.md, report.html, figures/, tables/.

Reads everything through `nnscratch.results`; trains nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nnscratch import results
from nnscratch.claims import (
    METHOD,
    CheckResult,
    ClaimResult,
    claims_for,
    confidence,
    evaluate,
    load_claims,
    margin_text,
)
from nnscratch.report import diagnoses, figures, tables
from nnscratch.report.remedies import remedy_section
from nnscratch.report.render import Section, slug, write_html, write_markdown


@dataclass
class Sweep:
    """One sweep's data as the report needs it."""

    path: Path
    name: str
    dataset: str
    axes: list[str]
    runs: pd.DataFrame
    histories: pd.DataFrame
    record: dict


def load_sweep(path: Path) -> Sweep:
    record = results.read_sweep(path)
    runs = results.read_results(path)
    return Sweep(
        Path(path), record["name"], results.dataset_of(path), record["axes"], runs, results.read_histories(path), record
    )


# ---------------------------------------------------------------- claims in words and numbers


def effect_text(check: CheckResult) -> str:
    """The check's numbers in one line: measure, margin and interval of the weakest and strongest cell."""
    cells = check.cells
    if cells.empty:
        return "no runs"
    lo, hi = cells["mean"].min(), cells["mean"].max()
    spread = f"{lo:.3g}" if f"{lo:.3g}" == f"{hi:.3g}" else f"{lo:.3g} to {hi:.3g}"
    ends = sorted({int(cells["margin"].idxmin()), int(cells["margin"].idxmax())})
    margins = " … ".join(margin_text(cells, i) for i in ends)
    return f"{check.measure}: {spread}; {margins}"


def cells_text(check: CheckResult) -> str:
    if check.cells.empty:
        return "—"
    n = check.counts()
    return f"{n['holds']} hold / {n['fails']} fail / {n['undecided']} undecided"


def claims_table(results_: list[ClaimResult], links: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per claim; with `links` ({title: section id}) each claim links to its section."""
    rows = []
    for c in results_:
        main = c.checks[0]
        rows.append(
            {
                "claim": f"[{c.title}](#{links[c.title]})" if links else c.title,
                "verdict": c.verdict.upper(),
                "effect [interval]": effect_text(main),
                "seeds": int(main.cells["seeds"].sum()) if not main.cells.empty else 0,
                "cells": cells_text(main),
                "why": main.reason,
                "mechanism / further checks": "; ".join(f"{ch.verdict}: {ch.what}" for ch in c.checks[1:]) or "—",
            }
        )
    return pd.DataFrame(rows)


def shown_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """A check's cell table for reading: rounded, without the run ids."""
    shown = cells.drop(columns=["run_ids", "margins"]).round(4)
    return shown.assign(seeds_needed=pd.to_numeric(shown["seeds_needed"], errors="coerce").astype("Int64"))


def claim_sections(
    claim_results: list[ClaimResult], heading: str, level: float, figure: Path | None, claims: dict
) -> list[Section]:
    verdicts_id = slug(f"{heading} verdicts")
    links = {c.title: slug(f"{heading} {c.title}") for c in claim_results}
    sections = [
        Section(
            f"{heading}: verdicts",
            [
                f"Each claim ({claims.get('title', 'claims')}) was turned into checks with thresholds fixed in "
                f"{claims.get('file', 'the claims file')} "
                "before any run. Margins are in the units of the measure (accuracy: 0.01 = 1 point). "
                "Each claim links to its section.",
                "How sure: " + METHOD.format(level=level),
            ],
            tables=[(claims.get("title", "Claims"), claims_table(claim_results, links))],
            figures=[("Each claim's cells: mean margin, interval and seeds", figure)] if figure else [],
            anchor=verdicts_id,
        )
    ]
    for c in claim_results:
        text = [f"[↑ back to the verdicts](#{verdicts_id})"]
        text += [f"Log: “{c.log}”"] if c.log else []
        tabs = []
        for i, ch in enumerate(c.checks):
            label = "Verdict" if i == 0 else "Further check"
            seeds = int(ch.cells["seeds"].sum()) if not ch.cells.empty else 0
            numbers = f" Effect: {effect_text(ch)}; {seeds} seeds; cells {cells_text(ch)}." if seeds else ""
            text.append(f"{label}: **{ch.verdict.upper()}** — {ch.what}. {ch.reason}.{numbers}")
            if not ch.cells.empty:
                tabs.append((f"{ch.what} ({ch.verdict})", shown_cells(ch.cells)))
        sections.append(Section(f"{c.title} — {c.verdict.upper()}", text, tables=tabs, level=3, anchor=links[c.title]))
    return sections


def rounds_section(s: Sweep) -> Section | None:
    """The adaptive rounds of a sweep: which cells got extra seeds, why, and the verdicts before and after."""
    rounds = s.record.get("rounds") or []
    if not rounds:
        return None
    rows = [
        {
            "round": r["round"],
            "cell": cell["cell"],
            "seeds added": ", ".join(str(x) for x in cell["seeds"]),
            "runs": len(cell["runs"]),
            "reason": cell["reason"],
        }
        for r in rounds
        for cell in r["cells"]
    ]
    before = rounds[0]["verdicts_before"]
    after = rounds[-1].get("verdicts_after", {})
    changes = pd.DataFrame(
        [{"claim": k, "before extra seeds": v.upper(), "after": after.get(k, "?").upper()} for k, v in before.items()]
    )
    text = [
        f"Adaptive seeds (max {s.record['adaptive']['max_seeds']} per cell): {len(rounds)} round(s), "
        f"{sum(len(c['runs']) for r in rounds for c in r['cells'])} extra runs, added only to the cells that fed "
        "an undecided check (both sides of a contrast).",
        f"Stopped because: {s.record['adaptive'].get('stopped', 'the sweep did not finish its rounds')}.",
    ]
    return Section(
        "Extra seeds where a verdict was undecided",
        text,
        tables=[("Cells that received extra seeds", pd.DataFrame(rows)), ("Verdicts before and after", changes)],
        level=2,
    )


# ---------------------------------------------------------------- one sweep

UNIT_CAPTION = (
    "Dead first-layer ReLU units at init and at the end, and distinct units, per condition (input scaling × "
    "weights × biases): every run a point, the mean with its 95 % bootstrap interval."
)


def sweep_header(s: Sweep) -> Section:
    runs = s.runs
    wall = sum(x.get("wall_seconds", 0) for x in s.record.get("sessions", []))
    counts = tables.with_outcome(runs)["outcome"].value_counts().to_dict()
    text = [
        f"Sweep '{s.name}' on {s.dataset}: {len(runs)} runs in {s.path}.",
        "Axes: " + ", ".join(f"{a} ({runs[a].nunique()} levels)" for a in s.axes if a in runs.columns) + ".",
        "Outcomes: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".",
        f"Wall time: {wall / 60:.1f} min over {len(s.record['sessions'])} session(s)."
        if s.record.get("sessions")
        else "Wall time: not recorded.",
        "Reproduce any run alone with the command in the 'All runs' table.",
    ]
    return Section(f"Sweep {s.name} ({s.dataset})", text, level=2)


def sweep_sections(s: Sweep, claims: dict, out: Path, tag: str) -> list[Section]:
    fig_dir = out / "figures"
    runs, hist, axes = s.runs, s.histories, s.axes
    f = lambda name: fig_dir / f"{tag}{name}.png"
    heat = figures.collapse_heatmaps(
        runs, axes, f("collapse_heatmaps"), title=f"Collapse vs success on {s.dataset}: test accuracy per cell"
    )
    sections = [sweep_header(s)]
    verdicts = evaluate(claims, runs, hist, axes)
    intervals = figures.claim_intervals(verdicts, f("claim_intervals"))
    per_claim = claim_sections(verdicts, f"{s.name} on {s.dataset}", confidence(claims), intervals, claims)
    diag = diagnoses.diagnose_sweep(s.path, runs, hist)
    diagnoses.cite_in_claims(per_claim[1:], verdicts, diag)
    sections += per_claim
    if extra := rounds_section(s):
        sections.append(extra)
    if fixes := remedy_section(claims, verdicts, runs, hist, fig_dir):
        sections.append(fixes)
    sections.append(diagnoses.diagnosis_section(s, diag, claims, verdicts, out, tag))
    sections.append(
        Section(
            "Collapse vs success",
            [
                "Mean test accuracy over seeds per cell (± sd); "
                "cells where most seeds collapsed or diverged are boxed in red."
            ],
            figures=[("Mean test accuracy over seeds per cell; red boxes: most seeds collapsed or diverged.", heat)],
            level=2,
        )
    )
    sections.append(
        Section(
            "Every run",
            [],
            figures=[
                (
                    "Final test accuracy of every run by factor, coloured by outcome.",
                    figures.strip_by_factor(runs, axes, f("strip_by_factor")),
                ),
                (
                    "Each line is one run: its level on every factor, then its final test accuracy.",
                    figures.parallel_coordinates(runs, axes, f("parallel_coordinates")),
                ),
            ],
            level=2,
        )
    )
    if not hist.empty:
        sections.append(
            Section(
                "Learning curves",
                [],
                figures=[
                    (
                        "Train and test accuracy against iteration, one line per cell (mean over seeds, band ±1 sd).",
                        figures.learning_curves(runs, hist, axes, f("learning_curves")),
                    )
                ],
                level=2,
            )
        )
        sections.append(
            Section(
                "Dead and distinct hidden units",
                [],
                figures=[(UNIT_CAPTION, figures.unit_diagnostics(runs, hist, axes, f("unit_diagnostics")))],
                level=2,
            )
        )
    sections.append(
        Section(
            "Overfitting",
            [],
            figures=[
                (
                    "Train − test accuracy gap per cell: how far a net fits its training set beyond the test set.",
                    figures.overfitting(runs, axes, f("overfitting")),
                )
            ],
            level=2,
        )
    )
    sections.append(
        Section(
            "Tables",
            [
                "Interactions: a factor's effect (range of its level means) at each level of another factor; "
                "'depends' marks pairs where it moves by more than 0.05, "
                "i.e. a factor that matters only in combination."
            ],
            tables=[
                ("Main effects", tables.main_effects(runs, axes)),
                ("Interactions", tables.interactions(runs, axes)),
                ("Outcome counts by factor", tables.outcome_counts(runs, axes)),
                ("Test accuracy per cell (mean, std over seeds)", tables.pivot(runs, axes)),
                ("All runs", tables.all_runs(diagnoses.with_diagnosis(runs, diag), axes)),
            ],
            level=2,
            sortable=("All runs",),
        )
    )
    return sections


# ---------------------------------------------------------------- several sweeps


def comparison_sections(sweeps: list[Sweep], claims: dict, out: Path) -> list[Section]:
    """Each claim's verdict and numbers per dataset side by side, and the heatmaps on one colour scale."""
    per = {s.dataset: evaluate(claims, s.runs, s.histories, s.axes) for s in sweeps}
    rows = []
    for i, claim in enumerate(next(iter(per.values()))):
        row = {"claim": claim.title}
        for ds, res in per.items():
            row[f"{ds} verdict"] = res[i].verdict.upper()
            row[f"{ds} numbers"] = effect_text(res[i].checks[0])
        verdicts = {ds: res[i].verdict for ds, res in per.items()}
        said = [
            f"{v} on {d}" + (f" ({per[d][i].checks[0].reason})" if v == "conditional" else "")
            for d, v in verdicts.items()
        ]
        row["across datasets"] = (
            "same on every dataset"
            if len(set(verdicts.values())) == 1
            else "changes with the dataset: " + "; ".join(said)
        )
        rows.append(row)
    combined = pd.concat([s.runs.assign(dataset=s.dataset) for s in sweeps], ignore_index=True)
    heat = figures.collapse_heatmaps(
        combined,
        sweeps[0].axes,
        out / "figures" / "compare_collapse_heatmaps.png",
        facet="dataset",
        title="Collapse vs success per dataset (one colour scale)",
    )
    return [
        Section(
            "Beyond one dataset: the claims side by side",
            [
                "Same grid, same claims file; thresholds that depend on the data (the collapse level) are computed "
                "from each dataset's test labels."
            ],
            tables=[("Verdicts per dataset", pd.DataFrame(rows))],
            figures=[("Collapse vs success per dataset", heat)],
            level=2,
        )
    ]


def write_report(sweep_dirs: list[Path], out_dir: Path | None = None, claims_path: Path | None = None) -> Path:
    """Write the report of one sweep into its folder, or of several into `out_dir`; the HTML's path.
    Claims: `claims_path`, else the first sweep's own (its grid's `claims:`, else conf/claims.yaml)."""
    sweeps = [load_sweep(Path(d)) for d in sweep_dirs]
    out = (
        Path(out_dir)
        if out_dir
        else (sweeps[0].path if len(sweeps) == 1 else Path("outputs") / "compare" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    )
    (out / "figures").mkdir(parents=True, exist_ok=True)
    path = Path(claims_path or claims_for(sweeps[0].record))
    claims = load_claims(path) | {"file": path.name}
    sections = comparison_sections(sweeps, claims, out) if len(sweeps) > 1 else []
    for s in sweeps:
        sections += sweep_sections(s, claims, out, f"{s.dataset}_" if len(sweeps) > 1 else "")
    title = "nnscratch report: " + " vs ".join(f"{s.name} on {s.dataset}" for s in sweeps)
    write_markdown(out / "report.md", title, sections, out)
    return write_html(out / "report.html", title, sections)
