"""nnscratch.claims.verdicts on a few hand-made runs: a check's verdict from its cells, one check and a
claims file judged end to end (no sweep), and the open cells the adaptive rounds feed."""

from __future__ import annotations

import pandas as pd
import pytest

from nnscratch.claims.design import design
from nnscratch.claims.verdicts import CheckResult, evaluate, run_check, undecided_runs, verdict

ONE_LOOK = design({"sequential": {"looks": [6]}})  # holds at 6 of 6 passes, fails at 0 of 6 (see test_claims_cells)


def _cells(lrs: list[float], decisions: list[str], margins: list[float]) -> pd.DataFrame:
    n = len(lrs)
    return pd.DataFrame(
        {
            "lr": lrs, "decision": decisions, "alone": decisions, "margin": margins, "median": margins,
            "low": [-1.0] * n, "high": [1.0] * n, "seeds": [6] * n, "failed": [0] * n,
            "fail_rate_low": [0.0] * n, "fail_rate_high": [0.4] * n, "outcomes": ["ok 6"] * n,
            "seeds_needed": [10] * n, "futility": [""] * n, "basis": ["exact binomial test"] * n,
            "run_ids": [[f"r{i}"] for i in range(n)],
        }
    )  # fmt: skip


def test_all_cells_holding_is_supported_and_names_the_weakest():
    found, reason = verdict(_cells([0.1, 1.0], ["holds", "holds"], [0.3, 0.2]))
    assert found == "supported" and reason.startswith("holds in all 2 cells; weakest: lr=1.0, median margin +0.2")


def test_all_cells_failing_is_refuted_and_names_the_closest():
    found, reason = verdict(_cells([0.1, 1.0], ["fails", "fails"], [-0.3, -0.2]))
    assert found == "refuted" and reason.startswith("fails in all 2 cells; closest: lr=1.0,")


def test_cells_split_by_one_axis_are_conditional_on_it():
    found, reason = verdict(_cells([0.1, 1.0], ["holds", "fails"], [0.3, -0.2]))
    assert (found, reason) == ("conditional", "holds for lr = 0.1; not for lr = 1.0")


def test_one_open_cell_makes_the_check_inconclusive():
    found, reason = verdict(_cells([0.1, 1.0], ["holds", "undecided"], [0.3, -0.2]))
    assert found == "inconclusive" and reason.startswith("1 of 2 cells undecided or split")


def test_counts_tally_each_decision():
    result = CheckResult("w", "conditional", "", _cells([1, 2, 3], ["holds", "fails", "holds"], [1, -1, 1]))
    assert result.counts() == {"holds": 2, "fails": 1, "undecided": 0, "split": 0}
    assert CheckResult("w", "inconclusive", "").counts() == {"holds": 0, "fails": 0, "undecided": 0, "split": 0}


def _runs(accuracies: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"run_id": f"{scheme}{seed}", "scheme": scheme, "seed": seed, "test_acc": acc, "status": "finished"}
        for scheme, accs in accuracies.items()
        for seed, acc in enumerate(accs)
    ]
    return pd.DataFrame(rows)


CHECK = {"what": "normal learns", "kind": "threshold", "select": {"scheme": "normal"}, "measure": "test_acc"}


def test_run_check_decides_from_the_runs_margins():
    runs = _runs({"normal": [0.81, 0.84, 0.86, 0.83, 0.85, 0.82]})
    result = run_check(CHECK | {"value": 0.8}, runs, pd.DataFrame(), {}, ["scheme", "seed"], ONE_LOOK)
    assert result.verdict == "supported" and result.cells["seeds"].tolist() == [6]
    failing = run_check(CHECK | {"value": 0.9}, runs, pd.DataFrame(), {}, ["scheme", "seed"], ONE_LOOK)
    assert failing.verdict == "refuted"
    assert failing.cells["margin"].iloc[0] == pytest.approx(0.835 - 0.9)


def test_run_check_without_runs_is_inconclusive():
    runs = _runs({"zeros": [0.1] * 6})
    result = run_check(CHECK | {"value": 0.8}, runs, pd.DataFrame(), {}, ["scheme", "seed"], ONE_LOOK)
    assert (result.verdict, result.reason) == ("inconclusive", "the sweep has no runs for this check")


def test_evaluate_judges_finished_runs_only_and_lists_open_cells():
    runs = _runs({"normal": [0.81, 0.84, 0.86, 0.83, 0.85, 0.82]})
    runs.loc[5, "status"] = "failed"  # five finished seeds: the one look at 6 is not reached yet
    claims = {
        "sequential": {"looks": [6]},
        "claims": [{"id": "c1", "title": "normal init learns", "checks": [CHECK | {"value": 0.8}]}],
    }
    (claim,) = evaluate(claims, runs, pd.DataFrame(), ["scheme", "seed"])
    assert (claim.id, claim.verdict) == ("c1", "inconclusive")
    assert claim.checks[0].cells["seeds"].tolist() == [5]
    ids = [f"normal{s}" for s in range(5)]
    assert undecided_runs([claim]) == [("c1", "normal learns: the only cell", ids, 6, (5, 5))]  # 5 of 5 pass
