"""'Why runs failed': every run of a sweep diagnosed again from its own records (nnscratch.diagnose),
a cell x diagnosis table and figure, each diagnosis with links to its runs and its fix, the curves of
one such run beside a healthy one, and each claim's runs' diagnoses cited in its section.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from nnscratch import diagnose, results
from nnscratch.claims import ClaimResult
from nnscratch.report.figures import save
from nnscratch.report.remedies import remedy_table
from nnscratch.report.render import Section
from nnscratch.report.tables import factors
from nnscratch.results import SEED

HEALTHY = "healthy"
EXAMPLES = 3  # runs linked per diagnosis


def diagnose_sweep(sweep_dir: Path, runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """run_id, diagnosis, diagnoses, diagnosis_evidence, diagnosis_fix of every run, recomputed from
    results.csv, the histories and each run's config.json (whatever the run itself wrote)."""
    root = results.runs_dir(sweep_dir)
    configs = {
        rid: json.loads((root / rid / "config.json").read_text()).get("config", {})
        for rid in runs["run_id"]
        if (root / rid / "config.json").is_file()
    }
    return diagnose.diagnose_histories(runs, histories, configs)


def cell_names(runs: pd.DataFrame, axes: list[str]) -> pd.Series:
    """Each run's cell: its levels of the varying axes other than the seed, as 'axis=level, ...'."""
    keys = [a for a in factors(runs, axes) if a != SEED]
    return runs[keys].astype(str).apply(lambda r: ", ".join(f"{k}={v}" for k, v in r.items()), axis=1)


def diagnosis_counts(runs: pd.DataFrame, diag: pd.DataFrame, axes: list[str], order: list[str]) -> pd.DataFrame:
    """Runs per cell (rows) and headline diagnosis (columns, in the modes' order)."""
    joined = runs_with_diagnosis(runs, diag)
    table = pd.crosstab(cell_names(joined, axes), joined["diagnosis"].fillna("not run"))
    return table[[d for d in order if d in table.columns] + [c for c in table.columns if c not in order]]


def cell_figure(table: pd.DataFrame, path: Path) -> Path:
    """The cell x diagnosis counts as a heatmap, counts written in (white on dark cells: seaborn picks
    the text colour from each cell's shade), empty cells left blank."""
    counts = table.to_numpy()
    fig, ax = plt.subplots(figsize=(1.1 * len(table.columns) + 5, 0.28 * len(table) + 1.6))
    sns.heatmap(
        counts,
        annot=np.where(counts > 0, counts.astype(str), ""),
        fmt="",
        cmap="Reds",
        vmin=0,
        cbar=False,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 7},
        ax=ax,
    )
    ax.set_xticks(np.arange(len(table.columns)) + 0.5, table.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(table)) + 0.5, table.index, fontsize=6, rotation=0)
    ax.set_title("Headline diagnosis of each run, per cell (number of runs)")
    return save(fig, path)


def run_link(sweep_dir: Path, out: Path, run_id: str) -> str:
    """A Markdown link from the report to a run's folder."""
    target = os.path.relpath(results.runs_dir(sweep_dir) / run_id, out)
    return f"[{run_id}]({target}/)"


def measured(mode: dict, claims: dict, verdicts: list[ClaimResult]) -> list[str]:
    """The remedies grid's verdicts on the mode's fixes, when this report judges that grid's claims."""
    table = remedy_table(claims, verdicts) if all("remedy" in c for c in claims.get("claims", [])) else None
    if table is None or table.empty:
        return []
    ids = [c.get("id") for c in claims["claims"]]
    rows = [table.iloc[ids.index(i)] for i in mode.get("measured", []) if i in ids]
    return [
        f"{r['remedy']}: {r['verdict'].upper()} ({r['measure']} {r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}])"
        for r in rows
        if pd.notna(r.get("mean"))
    ]


def diagnosis_rows(
    s, diag: pd.DataFrame, out: Path, modes: list[dict], claims: dict, verdicts: list[ClaimResult]
) -> pd.DataFrame:
    """One row per headline diagnosis: runs, links to some, one run's evidence, the fix (measured or to try)."""
    rows = []
    for mode in modes:
        shown = diag[diag["diagnosis"] == mode["name"]]
        if shown.empty:
            continue
        quoted = measured(mode, claims, verdicts)
        rows.append(
            {
                "diagnosis": mode["name"],
                "runs": len(shown),
                "as a further mode": int(diag["diagnoses"].fillna("").str.contains(mode["name"]).sum() - len(shown)),
                "e.g.": ", ".join(run_link(s.path, out, r) for r in shown["run_id"][:EXAMPLES]),
                "evidence (first run)": shown["diagnosis_evidence"].iloc[0],
                "fix": fix_text(mode, shown["diagnosis_fix"].iloc[0], quoted),
            }
        )
    return pd.DataFrame(rows)


def fix_text(mode: dict, override: str | None, quoted: list[str]) -> str:
    """What fixes it: the remedies grid's verdicts when measured here, else the override to try."""
    if quoted:
        return "measured (sweep=remedies): " + "; ".join(quoted)
    if not mode.get("remedy"):
        return "—"
    return f"{mode['remedy']}: try `{override}` (not measured in this sweep)" if override else mode["remedy"]


def diagnosis_curves_figure(hist: pd.DataFrame, diag: pd.DataFrame, path: Path) -> Path | None:
    """For each failing headline diagnosis, the test accuracy and dead-unit share of its first run
    against iteration, beside the first healthy run's (log-scaled iterations: the early ones show)."""
    shown = set(diag["diagnosis"].dropna())
    failing = [m["name"] for m in diagnose.load_modes() if m["name"] in shown and m["name"] != HEALTHY]
    healthy = diag.loc[diag["diagnosis"] == HEALTHY, "run_id"]
    if not failing or hist.empty:
        return None
    fig, axs = plt.subplots(2, len(failing), figsize=(3.2 * len(failing), 5), squeeze=False, sharex=True)
    for j, name in enumerate(failing):
        pairs = [(diag.loc[diag["diagnosis"] == name, "run_id"].iloc[0], name, "#c0392b")]
        pairs += [(healthy.iloc[0], HEALTHY, "#2e7d32")] if len(healthy) else []
        for rid, label, color in pairs:
            h = hist[hist["run_id"] == rid]
            axs[0, j].plot(h["iteration"] + 1, h["test_acc"], color=color, label=f"{label} ({rid})")
            if "dead_l1" in h:
                axs[1, j].plot(h["iteration"] + 1, h["dead_l1"], color=color)
        axs[0, j].set_title(name, fontsize=9)
        axs[0, j].legend(fontsize=6)
        axs[1, j].set_ylim(-0.03, 1.03)
        axs[1, j].set_xscale("log")
        axs[1, j].set_xlabel("iteration + 1")
    axs[0, 0].set_ylabel("test accuracy")
    axs[1, 0].set_ylabel("dead share of layer 1")
    return save(fig, path)


def claim_runs(claim: ClaimResult) -> list[str]:
    """The run ids every check of a claim read."""
    ids = [rid for ch in claim.checks if not ch.cells.empty for cell in ch.cells["run_ids"] for rid in cell]
    return list(dict.fromkeys(ids))


def cite_in_claims(claim_sections: list[Section], verdicts: list[ClaimResult], diag: pd.DataFrame) -> None:
    """Add to each claim's section (in the order of `verdicts`) the headline diagnoses of its runs."""
    heads = diag.set_index("run_id")["diagnosis"]
    for section, claim in zip(claim_sections, verdicts):
        counts = heads.reindex(claim_runs(claim)).fillna("not diagnosed").value_counts()
        if len(counts):
            said = ", ".join(f"{name} {n}" for name, n in counts.items())
            section.text.append(
                f"Diagnoses of its {int(counts.sum())} runs ([why runs failed](#why_runs_failed)): {said}."
            )


def runs_with_diagnosis(runs: pd.DataFrame, diag: pd.DataFrame) -> pd.DataFrame:
    """results.csv with the recomputed diagnosis columns in place of the recorded ones."""
    cols = [c for c in diag.columns if c != "run_id"]
    return runs.drop(columns=[c for c in cols if c in runs.columns]).merge(diag, on="run_id", how="left")


def diagnosis_section(s, diag: pd.DataFrame, claims: dict, verdicts: list[ClaimResult], out: Path, tag: str) -> Section:
    """The section 'Why runs failed' of one sweep."""
    modes = diagnose.load_modes()
    order = [m["name"] for m in modes]
    table = diagnosis_counts(s.runs, diag, s.axes, order)
    figs = [
        (
            "Headline diagnosis per cell: the number of runs of each.",
            cell_figure(table, out / "figures" / f"{tag}diagnosis_cells.png"),
        )
    ]
    if curves := diagnosis_curves_figure(s.histories, diag, out / "figures" / f"{tag}diagnosis_curves.png"):
        figs.append(
            (
                "One run of each failing diagnosis (red) beside a healthy run (green): test accuracy and "
                "the share of dead first-layer units against iteration (log scale).",
                curves,
            )
        )
    text = [
        "Every run diagnosed from its own history and metrics with the modes of conf/diagnoses.yaml (thresholds "
        "fixed before any sweep was diagnosed); a run may show several modes, the first is its headline. "
        "The all-runs table below can be filtered by diagnosis.",
    ]
    tables_ = [
        ("Diagnoses: runs, examples, evidence and fix", diagnosis_rows(s, diag, out, modes, claims, verdicts)),
        ("Headline diagnosis per cell (runs)", table.reset_index(names="cell")),
    ]
    return Section("Why runs failed", text, tables=tables_, figures=figs, level=2, anchor="why_runs_failed")
