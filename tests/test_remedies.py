"""A tiny remedies-style grid, run for real, through the report: the failure x remedy matrix and verdicts."""

import pandas as pd
import pytest
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


SEEDS = [0, 1, 2, 3, 4, 5]  # the sequential boundary asks |t| >= 14.9 at 3 seeds, 3.71 at 6


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
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path / "out", conf_dir=conf), parallel, progress=False
    )
    assert counts["finished"] == 18 and results.read_sweep(sweep_dir)["claims"] == "claims_toy.yaml"
    html = write_report([sweep_dir], claims_path=conf / "claims_toy.yaml").read_text()
    assert "What fixes each failure" in html
    assert (sweep_dir / "figures" / "remedy_matrix.png").is_file() and (
        sweep_dir / "figures" / "remedy_curves.png"
    ).is_file()
    table = pd.read_csv(next(p for p in (sweep_dir / "tables").iterdir() if "failure" in p.name))
    rows = table.set_index("remedy")
    assert set(rows.index) == {"none (as in the log)", "adam"}
    assert rows.loc["none (as in the log)", "verdict"] == "refuted"  # unscaled as in the log: far below
    # the adam row's numbers are its paired differences to the reference, seed by seed, from results.csv
    runs = results.read_results(sweep_dir)
    ref = runs[(runs["data.scaling"] == "unit")].set_index("seed")["test_acc"]
    adam = runs[runs["optimizer"] == "adam"].set_index("seed")["test_acc"]
    diff = (adam - ref).dropna()
    assert len(diff) == len(SEEDS) and rows.loc["adam", "seeds"] == len(SEEDS)
    assert rows.loc["adam", "mean"] == pytest.approx(diff.mean(), rel=1e-3, abs=1e-4)  # the CSV keeps 4 digits
    assert rows.loc["adam", "sd"] == pytest.approx(diff.std(), rel=1e-3, abs=1e-4)
    # and its verdict is on the side of the threshold (-0.01) its seeds are on; the deciding prefix of
    # seeds may be shorter than all six, and seeds that split into collapse and success decide nothing
    low, high, verdict = rows.loc["adam", ["low", "high", "verdict"]]
    assert low <= diff.mean() <= high
    if verdict == "supported":
        assert diff.mean() > -0.01
    elif verdict == "refuted":
        assert diff.mean() < -0.01
    else:
        assert verdict == "inconclusive"


def test_a_remedies_grid_whose_claims_have_no_runs_still_gets_its_table_and_figures(tmp_path):
    """A pruned remedies grid (no claim selects any of its runs) crashed the report with KeyError 'mean'."""
    from nnscratch.claims import CheckResult, ClaimResult
    from nnscratch.report.remedies import matrix_figure, remedy_curves_figure, remedy_table

    claims = {"claims": [claim("as_is", "none (as in the log)", UNSCALED), claim("adam", "adam", ADAM)]}
    empty = [
        ClaimResult(c["id"], c["title"], "", [CheckResult("x", "inconclusive", "no runs")]) for c in claims["claims"]
    ]
    table = remedy_table(claims, empty)
    assert list(table["verdict"]) == ["inconclusive", "inconclusive"] and table["mean"].isna().all()
    assert matrix_figure(table, tmp_path / "m.png").is_file()
    remedy_curves_figure(
        claims, table, pd.DataFrame({"run_id": []}), pd.DataFrame({"run_id": [], "iteration": []}), tmp_path / "c.png"
    )


def test_the_remedies_table_shows_the_numbers_of_its_matrix_figure(tmp_path):
    """The table was rounded to 4 places before the writer's 3: a mean of 0.86549 read 0.866 in the table
    and 0.865 in the figure's cell."""
    from nnscratch.claims import CheckResult, ClaimResult
    from nnscratch.report.remedies import remedy_section
    from nnscratch.report.render import write_markdown

    claims = {"claims": [claim("adam", "adam", ADAM)]}
    cells = pd.DataFrame(
        {"margin": [0.1], "low": [0.05], "high": [0.15], "mean": [0.86549], "sd": [0.01], "seeds": [6]}
    )
    res = [ClaimResult("adam", "adam", "", [CheckResult("x", "supported", "", cells, "train_acc")])]
    none = pd.DataFrame({"run_id": []})
    section = remedy_section(claims, res, none, none, tmp_path)
    text = write_markdown(tmp_path / "r.md", "r", [section], tmp_path).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| unscaled"))
    assert "0.865" in row and "0.866" not in row, row
