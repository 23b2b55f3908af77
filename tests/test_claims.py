"""The confidence engine on synthetic results with known effects: intervals, decisions and verdicts."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nnscratch.claims import design, evaluate, seeds_needed

AT_HALF = {"what": "test accuracy at least 0.5", "kind": "threshold", "select": {}, "measure": "test_acc", "value": 0.5}


def table(cells: dict[str, list[float]], axis: str = "weights") -> pd.DataFrame:
    """One finished run per (cell, seed) with the given test accuracies."""
    rows = [
        {"run_id": f"{level}-{seed}", axis: level, "seed": seed, "status": "finished", "test_acc": acc}
        for level, accs in cells.items()
        for seed, acc in enumerate(accs)
    ]
    return pd.DataFrame(rows)


DESIGN = design({"confidence": 0.95})  # the default design: looks at 3, 6 and 10 seeds


def judge(runs: pd.DataFrame, check: dict = AT_HALF, axes=("weights", "seed"), level: float = 0.95):
    claims = {"confidence": level, "claims": [{"id": "c", "title": "c", "checks": [check]}]}
    return evaluate(claims, runs, pd.DataFrame(), list(axes))[0].checks[0]


def test_a_clear_effect_is_supported_and_a_clear_absence_refuted():
    assert judge(table({"he": [0.90, 0.91, 0.89]})).verdict == "supported"
    assert judge(table({"he": [0.20, 0.21, 0.19]})).verdict == "refuted"


def test_the_interval_is_the_sequential_designs_at_this_look():
    """At 3 seeds the boundary asks |t| >= 14.9 (not Student's 4.30): 0.56-0.60 does not clear 0.5 yet."""
    accs = [0.56, 0.58, 0.60]
    cell = judge(table({"he": accs})).cells.iloc[0]
    margins = np.array(accs) - 0.5
    critical = float(DESIGN.critical_at(3))
    assert critical > 2 * stats.t.ppf(0.975, 2)
    half = critical * margins.std(ddof=1) / math.sqrt(3)
    assert cell["low"] == pytest.approx(margins.mean() - half) and cell["high"] == pytest.approx(margins.mean() + half)
    assert cell["decision"] == "undecided" and cell["seeds_needed"] > 3
    tight = judge(table({"he": [0.579, 0.58, 0.581]})).cells.iloc[0]  # t = 139
    assert tight["decision"] == "holds" and tight["low"] > 0


def test_an_effect_at_the_threshold_with_large_spread_is_undecided_at_three_seeds():
    check = judge(table({"he": [0.40, 0.50, 0.61]}))
    assert check.verdict == "inconclusive"
    assert "1 of 1 cells undecided" in check.reason
    assert check.counts() == {"holds": 0, "fails": 0, "undecided": 1, "split": 0}


def test_the_same_small_effect_is_decided_with_small_spread_and_many_seeds():
    few = judge(table({"he": [0.505, 0.52, 0.515]}))
    assert few.verdict == "inconclusive"
    needed = int(few.cells.iloc[0]["seeds_needed"])
    assert 3 < needed <= DESIGN.last and f"≈ {needed} seeds" in few.reason
    rng = np.random.default_rng(0)
    many = judge(table({"he": list(0.51 + rng.normal(0, 0.005, 10))}))
    assert many.verdict == "supported" and many.cells.iloc[0]["seeds"] == 10


def test_equal_seeds_decide_only_a_measure_the_claims_file_declares_seed_independent():
    collapsed = {"what": "at or below collapse", "kind": "threshold", "select": {}, "measure": "test_acc"}
    collapsed |= {"op": "<=", "value": 0.2135}
    plain = judge(table({"zeros": [0.1135] * 3}), collapsed)
    assert plain.verdict == "inconclusive" and "no spread" in plain.reason
    declared = collapsed | {"seed_independent": {"weights": "zeros"}}
    assert judge(table({"zeros": [0.1135] * 3}), declared).verdict == "supported"
    assert judge(table({"zeros": [0.1135] * 3}), AT_HALF | {"seed_independent": True}).verdict == "refuted"
    assert judge(table({"zeros": [0.5] * 3}), AT_HALF | {"seed_independent": True}).verdict == "supported"  # >= at 0.5
    strict = AT_HALF | {"op": ">", "seed_independent": True}
    assert judge(table({"zeros": [0.5] * 3}), strict).verdict == "refuted"
    unconfirmed = judge(table({"zeros": [0.1135, 0.1135, 0.12]}), declared)  # the runs deny the declaration
    assert unconfirmed.cells.iloc[0]["basis"] == "sequential t boundary"
    assert judge(table({"he": [0.1135] * 3}), declared).verdict == "inconclusive"  # declared for zeros only
    # a rate claim on a declared cell: every seed passes, so the rate is 1 (Clopper-Pearson alone says >= 0.20)
    assert judge(table({"zeros": [0.1135] * 3}), declared | {"rate": 0.9}).verdict == "supported"
    assert judge(table({"he": [0.1135] * 3}), declared | {"rate": 0.9}).verdict == "inconclusive"


def test_twin_runs_that_agree_to_8e_18_are_not_a_zero_spread_decision():
    """Every seed's he run is exactly 12.3 points above its uniform twin: the differences agree to 1e-16."""
    runs = table({"he": [0.8554, 0.864, 0.8522, 0.8595, 0.8578], "uniform": [0.8431, 0.8517, 0.8399, 0.8472, 0.8455]})
    check = {"what": "he beats uniform", "kind": "contrast", "measure": "test_acc - b.test_acc", "value": 0.005}
    check |= {"a": {"weights": "he"}, "b": {"weights": "uniform"}}
    result = judge(runs, check)
    assert 0 < np.ptp(result.cells.iloc[0]["margins"]) < 1e-15  # floats that happen to be (almost) equal
    assert result.verdict == "inconclusive" and "no spread" in result.reason


def test_a_single_seed_decides_nothing():
    check = judge(table({"he": [0.99]}))
    assert check.verdict == "inconclusive" and "no interval" in check.reason


def test_a_conditional_split_is_named_by_its_axis():
    check = judge(table({"he": [0.9, 0.91, 0.92], "xavier": [0.88, 0.9, 0.89], "zeros": [0.11, 0.12, 0.1]}))
    assert list(check.cells["decision"]) == ["holds", "holds", "fails"]
    assert check.verdict == "conditional"
    assert check.reason == "holds for weights = he, xavier; not for weights = zeros"


def test_a_contrast_is_paired_by_seed():
    """Seeds differ a lot from each other, the paired difference hardly: the paired interval decides."""
    seed_effect = [0.6, 0.8, 0.7, 0.9]
    noise = [0.001, -0.001, 0.0005, -0.0005]
    runs = table({"he": [s + 0.03 + e for s, e in zip(seed_effect, noise)], "uniform": seed_effect})
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


def test_seeds_needed_is_where_the_boundary_would_be_reached():
    n = seeds_needed(0.01, 0.01, DESIGN, 3)
    assert n is not None and math.sqrt(n) >= DESIGN.critical_at(n) and math.sqrt(n - 1) < DESIGN.critical_at(n - 1)
    assert seeds_needed(0.0, 0.02, DESIGN, 3) is None
    assert seeds_needed(0.001, 0.02, DESIGN, 3) is None  # not within the design's 10 seeds
    assert n in DESIGN.looks  # a look, never a seed count between looks


def test_seeds_that_split_between_outcomes_are_reported_split_with_the_failure_bound():
    runs = table({"uniform": [0.30, 0.31, 0.305, 0.11]}).assign(outcome=["ok", "ok", "ok", "collapsed"])
    check = {"what": "above collapse", "kind": "threshold", "select": {}, "measure": "test_acc", "value": 0.2135}
    result = judge(runs, check)
    cell = result.cells.iloc[0]
    assert cell["decision"] == "split" and result.verdict == "inconclusive"
    assert cell["failed"] == 1 and cell["outcomes"] == "ok 3, collapsed 1"
    low, high = stats.binomtest(1, 4).proportion_ci(0.95, method="exact")
    assert (cell["fail_rate_low"], cell["fail_rate_high"]) == pytest.approx((low, high))
    assert "1 of 4 seeds failed" in result.reason and "split" in result.reason
    clean = judge(table({"uniform": [0.30, 0.31, 0.305]}).assign(outcome="ok"), check).cells.iloc[0]
    assert clean["failed"] == 0 and clean["fail_rate_high"] == pytest.approx(1 - 0.025 ** (1 / 3))


def test_a_cell_that_passes_alone_is_not_counted_unless_holm_keeps_it():
    """Two cells clearly fail; two pass alone at t = 12.7 over 3 seeds (p = 0.027: below 0.05, above the
    0.05 / 2 Holm asks of the third of four)."""
    weak = [0.5 + 0.01, 0.5 + 0.0115, 0.5 + 0.0124]
    cells = judge(table({"a": weak, "a2": weak, "b": [0.2, 0.21, 0.19], "c": [0.1, 0.11, 0.12]})).cells
    cells = cells.set_index("weights")
    assert (cells.loc[["a", "a2"], "alone"] == "holds").all()
    assert (cells.loc[["a", "a2"], "decision"] == "undecided").all()
    assert 0.05 / 2 < cells.at["a", "p"] <= 0.05
    assert list(cells.loc[["b", "c"], "decision"]) == ["fails", "fails"]
    alone = judge(table({"a": weak, "b": [0.2, 0.21, 0.19], "c": [0.1, 0.11, 0.12]})).cells.set_index("weights")
    assert alone.at["a", "decision"] == "holds"  # Holm's last step is at 0.05


def test_a_claim_about_the_rate_of_seeds_is_decided_by_clopper_pearson():
    rate = AT_HALF | {"rate": 0.5}  # at least half the seeds pass
    assert judge(table({"he": [0.6] * 10}), rate).verdict == "supported"  # lower bound 0.62 at 1 - 0.05/3
    assert judge(table({"he": [0.6] * 9}), rate).verdict == "inconclusive"  # judged at 6 seeds: 0.45
    assert judge(table({"he": [0.6, 0.4, 0.61, 0.39]}), rate).verdict == "inconclusive"
    assert judge(table({"he": [0.4] * 10}), rate).verdict == "refuted"


def test_a_cell_beyond_the_designs_seeds_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="more than the sequential design's last look 10; add a later look"):
        judge(table({"he": list(np.linspace(0.6, 0.7, 11))}))
    with pytest.raises(ValueError, match="first_look <= max_seeds"):
        design({"sequential": {"first_look": 5, "max_seeds": 4}})
    with pytest.raises(ValueError, match="looks must be increasing"):
        design({"sequential": {"looks": [3, 10, 6]}})
    with pytest.raises(ValueError, match="spending must be one of pocock"):
        design({"sequential": {"spending": "linear"}})


def test_an_explanation_shared_by_undecided_cells_is_said_once_with_their_names():
    """Three cells with no spread and the same numbers: one reason, one set of numbers, three names; a
    fourth cell undecided for another reason keeps its own."""
    collapsed = {"what": "at or below collapse", "kind": "threshold", "select": {}, "measure": "test_acc"}
    collapsed |= {"op": "<=", "value": 0.2135}
    runs = table({"zeros": [0.1135] * 3, "ones": [0.1135] * 3, "twos": [0.1135] * 3, "he": [0.15, 0.21, 0.27]})
    reason = judge(runs, collapsed).reason
    assert reason.startswith("4 of 4 cells undecided or split: ")
    assert reason.count("no spread") == 1 and reason.count("margin") == 2, reason
    assert "3 cells, each margin" in reason
    assert all(f"weights={w}" in reason for w in ("zeros", "ones", "twos", "he"))
    assert "sequential t boundary" in reason
