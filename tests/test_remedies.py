"""A tiny remedies-style grid, run for real, through the report: the failure x remedy matrix and verdicts."""

import yaml

from nnscratch import results
from nnscratch.report import write_report
from nnscratch.run import sweep

REF = {"data.scaling": "unit", "optimizer": "gd", "train.lr": 0.1}
UNSCALED = {**REF, "data.scaling": "none"}
ADAM = {**UNSCALED, "optimizer": "adam", "train.lr": 0.01}


def claim(cid: str, remedy: str, a: dict) -> dict:
    check = {"what": "within 1 point of the reference", "kind": "contrast", "a": a, "b": REF}
    check |= {"measure": "test_acc - b.test_acc", "op": ">=", "value": -0.01}
    return {"id": cid, "title": cid, "failure": "unscaled", "remedy": remedy, "failing": UNSCALED, "checks": [check]}


SEEDS = [0, 1, 2, 3, 4, 5]  # the sequential boundary asks |t| >= 11.3 at 3 seeds, 4.3 at 6


def test_a_tiny_remedies_grid_gives_its_matrix_and_verdicts(tmp_path, conf_copy):
    conf = conf_copy
    claims = {
        "confidence": 0.95,
        "claims": [claim("as_is", "none (as in the log)", UNSCALED), claim("adam", "adam", ADAM)],
    }
    (conf / "claims_toy.yaml").write_text(yaml.safe_dump(claims))
    base = {"model": {"hidden": [[8]]}, "data": {"subset": [500]}, "train": {"iterations": [30], "eval_every": [10]}}
    grid = {
        "name": "toy_remedies",
        "claims": "claims_toy.yaml",
        "axes": {**base, "data": {"subset": [500], "scaling": ["unit", "none"]}, "seed": SEEDS},
        "extra": {
            "adam": {
                **base,
                "data": {"subset": [500], "scaling": ["none"]},
                "optimizer": ["adam"],
                "train": {"iterations": [30], "eval_every": [10], "lr": [0.01]},
                "seed": SEEDS,
            }
        },
    }
    parallel = {"backend": "loky", "n_jobs": 2, "scheduler": None, "stack_rows": 256}
    sweep_dir, counts = sweep.run(grid, parallel, [], tmp_path / "out", conf_dir=conf, progress=False)
    assert counts["finished"] == 18 and results.read_sweep(sweep_dir)["claims"] == "claims_toy.yaml"
    html = write_report([sweep_dir], claims_path=conf / "claims_toy.yaml").read_text()
    assert "What fixes each failure" in html
    assert (sweep_dir / "figures" / "remedy_matrix.png").is_file() and (
        sweep_dir / "figures" / "remedy_curves.png"
    ).is_file()
    table = next(p for p in (sweep_dir / "tables").iterdir() if "failure" in p.name)
    rows = {line.split(",")[1]: line for line in table.read_text().splitlines()[1:]}
    assert set(rows) == {"none (as in the log)", "adam"}
    assert "refuted" in rows["none (as in the log)"]  # unscaled pixels as in the log: far below the reference
    assert any(v in rows["adam"] for v in ("supported", "refuted", "inconclusive"))


def test_a_remedies_grid_whose_claims_have_no_runs_still_gets_its_table_and_figures(tmp_path):
    """A pruned remedies grid (no claim selects any of its runs) crashed the report with KeyError 'mean'."""
    import pandas as pd

    from nnscratch.claims import CheckResult, ClaimResult
    from nnscratch.report.remedies import curves_figure, matrix_figure, remedy_table

    claims = {"claims": [claim("as_is", "none (as in the log)", UNSCALED), claim("adam", "adam", ADAM)]}
    empty = [
        ClaimResult(c["id"], c["title"], "", [CheckResult("x", "inconclusive", "no runs")]) for c in claims["claims"]
    ]
    table = remedy_table(claims, empty)
    assert list(table["verdict"]) == ["inconclusive", "inconclusive"] and table["mean"].isna().all()
    assert matrix_figure(table, tmp_path / "m.png").is_file()
    curves_figure(
        claims, table, pd.DataFrame({"run_id": []}), pd.DataFrame({"run_id": [], "iteration": []}), tmp_path / "c.png"
    )
