"""Several sweeps that differ only in dataset: each claim's verdict per dataset, side by side."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnscratch.claims import evaluate, for_dataset
from nnscratch.report import figures
from nnscratch.report.load import Sweep
from nnscratch.report.render import Section
from nnscratch.report.sentences import check_sentence


def comparison_sections(sweeps: list[Sweep], claims: dict, out: Path) -> list[Section]:
    """Each claim's verdict and numbers per dataset side by side, and the heatmaps on one colour scale."""
    per = {s.dataset: evaluate(for_dataset(claims, s.dataset), s.runs, s.histories, s.axes) for s in sweeps}
    rows = []
    for i, claim in enumerate(next(iter(per.values()))):
        row = {"claim": claim.title}
        for ds, res in per.items():
            row[f"{ds} verdict"] = res[i].verdict.upper()
            row[f"{ds} numbers"] = check_sentence(res[i].checks[0], claims["claims"][i]["checks"][0])
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
