"""The confidence engine on synthetic results with known effects: intervals, decisions and verdicts."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nnscratch.claims import evaluate, interval, seeds_needed

AT_HALF = {"what": "test accuracy at least 0.5", "kind": "threshold", "select": {}, "measure": "test_acc", "value": 0.5}


def table(cells: dict[str, list[float]], axis: str = "weights") -> pd.DataFrame:
    """One finished run per (cell, seed) with the given test accuracies."""
    rows = [
        {"run_id": f"{level}-{seed}", axis: level, "seed": seed, "status": "finished", "test_acc": acc}
        for level, accs in cells.items()
        for seed, acc in enumerate(accs)
    ]
    return pd.DataFrame(rows)


def judge(runs: pd.DataFrame, check: dict = AT_HALF, axes=("weights", "seed"), level: float = 0.95):
    claims = {"confidence": level, "claims": [{"id": "c", "title": "c", "checks": [check]}]}
    return evaluate(claims, runs, pd.DataFrame(), list(axes))[0].checks[0]


def test_a_clear_effect_is_supported_and_a_clear_absence_refuted():
    assert judge(table({"he": [0.90, 0.91, 0.89]})).verdict == "supported"
    assert judge(table({"he": [0.20, 0.21, 0.19]})).verdict == "refuted"


def test_the_interval_is_students_t_on_the_seeds():
    accs = [0.56, 0.58, 0.60]
    cell = judge(table({"he": accs})).cells.iloc[0]
    margins = np.array(accs) - 0.5
    half = stats.t.ppf(0.975, 2) * margins.std(ddof=1) / math.sqrt(3)
    assert cell["low"] == pytest.approx(margins.mean() - half) and cell["high"] == pytest.approx(margins.mean() + half)
    assert cell["decision"] == "holds"  # low = 0.08 - 4.30 * 0.02 / 1.73 = 0.030 > 0


def test_an_effect_at_the_threshold_with_large_spread_is_undecided_at_three_seeds():
    check = judge(table({"he": [0.40, 0.50, 0.61]}))
    assert check.verdict == "inconclusive"
    assert "1 of 1 cells undecided" in check.reason
    assert check.counts() == {"holds": 0, "fails": 0, "undecided": 1}


def test_the_same_small_effect_is_decided_with_small_spread_and_many_seeds():
    few = judge(table({"he": [0.49, 0.52, 0.52]}))
    assert few.verdict == "inconclusive"
    needed = int(few.cells.iloc[0]["seeds_needed"])
    assert 3 < needed < 100 and f"≈ {needed} seeds" in few.reason
    rng = np.random.default_rng(0)
    many = judge(table({"he": list(0.51 + rng.normal(0, 0.005, 20))}))
    assert many.verdict == "supported" and many.cells.iloc[0]["seeds"] == 20


def test_cells_whose_seeds_all_agree_are_decided_by_that_value():
    collapsed = {"what": "at or below collapse", "kind": "threshold", "select": {}, "measure": "test_acc"}
    collapsed |= {"op": "<=", "value": 0.2135}
    check = judge(table({"zeros": [0.1135] * 3}), collapsed)
    assert check.verdict == "supported" and check.cells.iloc[0]["low"] == check.cells.iloc[0]["high"]
    assert judge(table({"zeros": [0.1135] * 3})).verdict == "refuted"
    assert judge(table({"zeros": [0.5] * 3})).verdict == "supported"  # >= 0.5 at exactly 0.5
    strict = AT_HALF | {"op": ">"}
    assert judge(table({"zeros": [0.5] * 3}), strict).verdict == "refuted"


def test_a_single_seed_decides_nothing():
    check = judge(table({"he": [0.99]}))
    assert check.verdict == "inconclusive" and "one seed" in check.reason


def test_a_conditional_split_is_named_by_its_axis():
    check = judge(table({"he": [0.9, 0.91, 0.92], "xavier": [0.88, 0.9, 0.89], "zeros": [0.11, 0.12, 0.1]}))
    assert check.verdict == "conditional"
    assert check.reason == "holds for weights = he, xavier; not for weights = zeros"


def test_a_contrast_is_paired_by_seed():
    """Seeds differ a lot from each other, the paired difference hardly: the paired interval decides."""
    seed_effect = [0.6, 0.8, 0.7, 0.9]
    runs = table({"he": [s + 0.03 for s in seed_effect], "uniform": seed_effect})
    check = {"what": "he beats uniform by 2 points", "kind": "contrast", "measure": "test_acc - b.test_acc"}
    check |= {"a": {"weights": "he"}, "b": {"weights": "uniform"}, "value": 0.02}
    result = judge(runs, check)
    assert result.verdict == "supported"
    assert result.cells.iloc[0]["mean"] == pytest.approx(0.03)
    assert sorted(result.cells.iloc[0]["run_ids"]) == sorted(runs["run_id"])  # both sides feed the cell


def test_a_run_that_never_reaches_counts_as_not_reaching():
    runs = table({"he": [0, 0, 0]})
    histories = pd.DataFrame(
        [
            {"run_id": f"he-{s}", "iteration": it, "train_acc": top * it / 100}
            for s, top in enumerate((0.97, 0.965, 0.90))
            for it in (0, 50, 100)
        ]
    )
    check = {"what": "reaches 0.96", "kind": "reach", "select": {}, "measure": "train_acc", "value": 0.96}
    check |= {"within": 100}
    claims = {"claims": [{"id": "r", "title": "r", "checks": [check]}]}
    result = evaluate(claims, runs, histories, ["weights", "seed"])[0].checks[0]
    assert result.cells.iloc[0]["margins"] == pytest.approx([0.01, 0.005, -0.06])
    assert result.verdict == "inconclusive" and "2 of 3 runs reached 0.96" in result.reason


def test_seeds_needed_is_where_the_interval_would_clear_the_threshold():
    n = seeds_needed(0.01, 0.02, 0.95)
    margins_at = lambda k: (
        0.01
        + 0.02 * stats.norm.ppf((np.arange(k) + 0.5) / k) / np.std(stats.norm.ppf((np.arange(k) + 0.5) / k), ddof=1)
    )
    assert interval(margins_at(n), 0.95)[0] > 0 > interval(margins_at(n - 1), 0.95)[0]
    assert seeds_needed(0.0, 0.02, 0.95) is None
