"""nnscratch.report.compare on two hand-made sweeps that differ only in dataset: each claim's verdict per
dataset side by side, whether it changes with the dataset, and the heatmaps written (no sweep is run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnscratch.report.compare import comparison_sections
from nnscratch.report.load import Sweep

AXES = ["weights", "data.subset", "seed"]
# one look at 6 seeds: a cell holds at 6 of 6 passes and fails at 0 of 6 (see tests/test_claims_cells.py)
CLAIMS = {
    "sequential": {"looks": [6]},
    "subsets": {"fashion": {5000: 2500}},
    "claims": [
        {
            "id": "c1",
            "title": "normal init learns",
            "checks": [
                {
                    "what": "learns",
                    "kind": "threshold",
                    "select": {"weights": "normal", "data.subset": 5000},
                    "measure": "test_acc",
                    "value": 0.5,
                }
            ],
        },
        {
            "id": "c2",
            "title": "zeros collapse",
            "checks": [
                {
                    "what": "collapses",
                    "kind": "threshold",
                    "select": {"weights": "zeros"},
                    "measure": "test_acc",
                    "value": 0.2,
                    "op": "<=",
                }
            ],
        },
    ],
}


def sweep(dataset: str, subset: int, normal_acc: float) -> Sweep:
    rows = [
        {"run_id": f"{w}{s}", "weights": w, "data.subset": subset, "seed": s, "status": "finished",
         "outcome": "ok" if w == "normal" else "collapsed", "test_acc": normal_acc if w == "normal" else 0.1}
        for w in ("normal", "zeros")
        for s in range(6)
    ]  # fmt: skip
    return Sweep(Path(dataset), "grid", dataset, AXES, pd.DataFrame(rows), pd.DataFrame(), {})


def test_verdicts_side_by_side_say_which_claim_changes_with_the_dataset(tmp_path):
    (tmp_path / "figures").mkdir()
    sweeps = [sweep("mnist", 5000, 0.9), sweep("fashion", 2500, 0.4)]  # fashion's 2500 stands for the log's 5000
    (section,) = comparison_sections(sweeps, CLAIMS, tmp_path)
    (caption, table), ((_, figure),) = section.tables[0], section.figures
    assert caption == "Verdicts per dataset"
    assert table["claim"].tolist() == ["normal init learns", "zeros collapse"]
    assert table["mnist verdict"].tolist() == ["SUPPORTED", "SUPPORTED"]
    assert table["fashion verdict"].tolist() == ["REFUTED", "SUPPORTED"]
    assert table["across datasets"].tolist() == [
        "changes with the dataset: supported on mnist; refuted on fashion",
        "same on every dataset",
    ]
    assert figure == tmp_path / "figures" / "compare_collapse_heatmaps.png" and figure.stat().st_size > 0
