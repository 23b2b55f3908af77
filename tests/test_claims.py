"""The confidence engine on synthetic results with known effects: intervals, decisions and verdicts."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nnscratch.claims import design, evaluate, margin_text

AT_HALF = {"what": "test accuracy at least 0.5", "kind": "threshold", "select": {}, "measure": "test_acc", "value": 0.5}


def table(cells: dict[str, list[float]], axis: str = "weights") -> pd.DataFrame:
    """One finished run per (cell, seed) with the given test accuracies."""
    rows = [
        {"run_id": f"{level}-{seed}", axis: level, "seed": seed, "status": "finished", "test_acc": acc}
        for level, accs in cells.items()
        for seed, acc in enumerate(accs)
    ]
    return pd.DataFrame(rows)


DESIGN = design({"confidence": 0.95})  # the default design: looks at 3, 6 and 10 seeds, power-0.5 spending


def same_histories(runs: pd.DataFrame) -> pd.DataFrame:
    """Histories in which every run of a cell is the same run (a seed-independent cell): its test_acc."""
    return pd.DataFrame(
        [{"run_id": r, "iteration": i, "test_acc": a} for r, a in zip(runs["run_id"], runs["test_acc"]) for i in (0, 1)]
    )


def judge(runs: pd.DataFrame, check: dict = AT_HALF, axes=("weights", "seed"), level: float = 0.95, histories=None):
    claims = {"confidence": level, "claims": [{"id": "c", "title": "c", "checks": [check]}]}
    histories = same_histories(runs) if histories is None else histories
    return evaluate(claims, runs, histories, list(axes))[0].checks[0]


def test_more_than_half_of_seeds_passing_is_decided_exactly_at_the_looks():
    """6 of 6 seeds passing holds at the look at 6 (chance 1/64 per side if half pass); 3 seeds never decide."""
    assert judge(table({"he": [0.90, 0.91, 0.89]})).verdict == "inconclusive"
    assert judge(table({"he": [0.90, 0.91, 0.89, 0.9, 0.92, 0.88]})).verdict == "supported"
    assert judge(table({"he": [0.20, 0.21, 0.19, 0.2, 0.22, 0.18]})).verdict == "refuted"
    assert DESIGN.upper == (4, 6, 9) and DESIGN.lower == (-1, 0, 1)
    assert DESIGN.error == pytest.approx(2 * (1 / 64 + 6 / 1024))  # exact, not simulated


def test_a_rare_bad_seed_does_not_stop_most_seeds_from_holding():
    """9 of 10 seeds pass, the tenth collapses far below: the mean margin is negative, the verdict states that
    most seeds pass (and says the mean beside it)."""
    accs = [0.51, 0.52, 0.515, 0.51, 0.52, 0.0, 0.515, 0.51, 0.52, 0.51]  # seed 5 fails: no 6 of 6, 9 of 10 at 10
    cell = judge(table({"he": accs})).cells.iloc[0]
    assert cell["margin"] < 0 < cell["median"] and cell["passed"] == 9
    assert cell["decision"] == "holds" and cell["p"] == pytest.approx(2 * (1 / 64 + 6 / 1024))
    assert judge(table({"he": accs[:9]})).cells.iloc[0]["decision"] == "undecided"  # 9 seeds: judged at 6 (5 of 6)


def test_a_cell_that_can_no_longer_be_decided_is_said_so_and_needs_no_seeds():
    three = judge(table({"he": [0.6, 0.4, 0.61]}))  # 2 of 3 pass: 6 of 6 impossible, 9 of 10 still possible
    assert three.cells.iloc[0]["seeds_needed"] == 10 and "still possible at 10 seeds" in three.reason
    hopeless = judge(table({"he": [0.6, 0.4, 0.61, 0.39, 0.6, 0.6]}))  # 2 failures: 9 of 10 impossible
    assert hopeless.cells.iloc[0]["seeds_needed"] is None and "can decide it any more" in hopeless.reason
    assert judge(table({"he": [0.6] * 3})).cells.iloc[0]["seeds_needed"] == 6


def test_the_interval_beside_the_mean_is_a_plain_t_interval_that_decides_nothing():
    accs = [0.56, 0.58, 0.60]
    cell = judge(table({"he": accs})).cells.iloc[0]
    margins = np.array(accs) - 0.5
    half = stats.t.ppf(0.975, 2) * margins.std(ddof=1) / math.sqrt(3)
    assert cell["low"] == pytest.approx(margins.mean() - half) and cell["high"] == pytest.approx(margins.mean() + half)
    assert cell["low"] > 0 and cell["decision"] == "undecided"


def test_a_seed_independent_declaration_is_believed_only_on_identical_histories():
    collapsed = {"what": "at or below collapse", "kind": "threshold", "select": {}, "measure": "test_acc"}
    collapsed |= {"op": "<=", "value": 0.2135}
    plain = judge(table({"zeros": [0.1135] * 3}), collapsed)
    assert plain.verdict == "inconclusive"  # undeclared: 3 equal seeds are 3 seeds
    declared = collapsed | {"seed_independent": {"weights": "zeros"}}
    confirmed = judge(table({"zeros": [0.1135] * 3}), declared)
    assert confirmed.verdict == "supported" and "confirmed: seeds 0 and 1" in confirmed.cells.iloc[0]["basis"]
    assert judge(table({"zeros": [0.1135] * 3}), AT_HALF | {"seed_independent": True}).verdict == "refuted"
    assert judge(table({"zeros": [0.5] * 3}), AT_HALF | {"seed_independent": True}).verdict == "supported"  # >= at 0.5
    strict = AT_HALF | {"op": ">", "seed_independent": True}
    assert judge(table({"zeros": [0.5] * 3}), strict).verdict == "refuted"
    # equal final values, histories that differ earlier: the declaration is refused with the evidence
    runs = table({"zeros": [0.1135] * 3})
    histories = same_histories(runs)
    histories.loc[(histories["run_id"] == "zeros-1") & (histories["iteration"] == 0), "test_acc"] = 0.098
    refused = judge(runs, declared, histories=histories)
    assert refused.verdict == "inconclusive"
    assert (
        "refused: seeds 0 and 1 differ (zeros-0 vs zeros-1: test_acc at iteration 0: 0.1135 vs 0.098)"
        in (refused.cells.iloc[0]["basis"])
    )
    assert "no history" in judge(runs, declared, histories=pd.DataFrame()).cells.iloc[0]["basis"]
    assert judge(table({"he": [0.1135] * 3}), declared).verdict == "inconclusive"  # declared for zeros only
    assert judge(table({"zeros": [0.1135] * 3}), declared | {"rate": 0.9}).verdict == "supported"


def test_twin_runs_that_agree_to_8e_18_are_six_passing_seeds_like_any_other():
    """Every seed's he run is exactly 12.3 points above its uniform twin: the differences agree to 1e-16;
    equal seeds need no special rule when the test counts passing seeds."""
    he, uniform = [0.8554, 0.864, 0.8522, 0.8595, 0.8578, 0.86], [0.8431, 0.8517, 0.8399, 0.8472, 0.8455, 0.8477]
    check = {"what": "he beats uniform", "kind": "contrast", "measure": "test_acc - b.test_acc", "value": 0.005}
    check |= {"a": {"weights": "he"}, "b": {"weights": "uniform"}}
    result = judge(table({"he": he, "uniform": uniform}), check)
    assert 0 < np.ptp(result.cells.iloc[0]["margins"]) < 1e-15  # floats that happen to be (almost) equal
    assert result.verdict == "supported"


def test_a_single_seed_decides_nothing():
    check = judge(table({"he": [0.99]}))
    assert check.verdict == "inconclusive" and "no interval" in check.reason


def test_a_conditional_split_is_named_by_its_axis():
    """Three cells, two hold and one fails at 6 seeds alone; declared seed-independent cells (p = 0) pass
    Holm, so the split stands."""
    runs = table({"he": [0.9] * 6, "xavier": [0.88] * 6, "zeros": [0.11] * 6})
    check = judge(runs, AT_HALF | {"seed_independent": True})
    assert list(check.cells["decision"]) == ["holds", "holds", "fails"]
    assert check.verdict == "conditional"
    assert check.reason == "holds for weights = he, xavier; not for weights = zeros"


def test_a_contrast_is_paired_by_seed():
    """Seeds differ a lot from each other, the paired difference hardly: every pair passes."""
    seed_effect = [0.6, 0.8, 0.7, 0.9, 0.65, 0.75]
    noise = [0.001, -0.001, 0.0005, -0.0005, 0.0002, -0.0002]
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


def test_seeds_past_the_last_look_are_reported_not_judged():
    """A 20-seed cell (the user's grid) is judged on its first 10 seeds in seed order; the other 10 are counted."""
    accs = [0.6] * 9 + [0.4] + [0.6] * 10  # 9 of the first 10 pass, 19 of all 20
    cell = judge(table({"he": accs})).cells.iloc[0]
    assert cell["decision"] == "holds" and (cell["judged"], cell["beyond"], cell["passed"]) == (10, 10, 9)
    assert cell["pass_rate_all"] == pytest.approx(0.95) and cell["seeds"] == 20
    assert "10 seeds past it reported only: 95% of all 20 seeds pass" in margin_text(
        judge(table({"he": accs})).cells, 0
    )
    many = judge(table({"he": list(np.linspace(0.55, 0.9, 625))}))  # 625 seeds, as in the 10,000-run grid
    assert many.verdict == "supported" and many.cells.iloc[0]["beyond"] == 615


def test_seed_failure_counts_and_outcomes_are_stated_with_their_exact_bound():
    runs = table({"uniform": [0.30, 0.31, 0.305, 0.11]}).assign(outcome=["ok", "ok", "ok", "collapsed"])
    check = {"what": "above collapse", "kind": "threshold", "select": {}, "measure": "test_acc", "value": 0.2135}
    result = judge(runs, check)
    cell = result.cells.iloc[0]
    assert cell["decision"] == "undecided" and result.verdict == "inconclusive"
    assert cell["failed"] == 1 and cell["outcomes"] == "ok 3, collapsed 1"
    low, high = stats.binomtest(1, 4).proportion_ci(0.95, method="exact")
    assert (cell["fail_rate_low"], cell["fail_rate_high"]) == pytest.approx((low, high))
    assert "1 of 4 seeds failed" in result.reason


def test_a_cell_that_passes_alone_is_not_counted_unless_holm_keeps_it():
    """Two cells hold alone at 6 of 6 (p = 2/64 = 0.031: above the 0.05 / 4 Holm asks first) beside two that
    fail by a declared, confirmed value (p = 0): the passing cells are not kept."""
    cells = judge(
        table({"a": [0.6] * 6, "a2": [0.61] * 6, "b": [0.2] * 6, "c": [0.1] * 6}),
        AT_HALF | {"seed_independent": {"weights": ["b", "c"]}},
    ).cells.set_index("weights")
    assert (cells.loc[["a", "a2"], "alone"] == "holds").all()
    assert (cells.loc[["a", "a2"], "decision"] == "undecided").all()
    assert cells.at["a", "p"] == pytest.approx(2 / 64)
    assert list(cells.loc[["b", "c"], "decision"]) == ["fails", "fails"]


def test_a_claim_about_the_rate_of_seeds_is_decided_by_the_exact_design_at_that_rate():
    rate = AT_HALF | {"rate": 0.9}  # more than 90 % of seeds pass: never supported within 10 seeds
    assert judge(table({"he": [0.6] * 10}), rate).verdict == "inconclusive"
    assert judge(table({"he": [0.4] * 3}), rate).verdict == "refuted"  # 0 of 3: chance 0.001 at rate 0.9
    assert judge(table({"he": [0.6, 0.4, 0.61, 0.39]}), rate).verdict == "inconclusive"  # judged at 3: 2 of 3
    six = judge(table({"he": [0.6, 0.6, 0.6, 0.4, 0.4, 0.4]}), rate)
    assert six.verdict == "refuted" and "more than 90% of seeds pass" in six.cells.iloc[0]["basis"]  # 3 of 6
    assert "vs 0.9" in six.guarantee


def test_bad_designs_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="first_look <= max_seeds"):
        design({"sequential": {"first_look": 5, "max_seeds": 4}})
    with pytest.raises(ValueError, match="looks must be increasing"):
        design({"sequential": {"looks": [3, 10, 6]}})
    with pytest.raises(ValueError, match="spending must be one of pocock"):
        design({"sequential": {"spending": "linear"}})
    with pytest.raises(ValueError, match="pocock is a t design"):
        design({"sequential": {"spending": "pocock"}})


def test_an_explanation_shared_by_undecided_cells_is_said_once_with_their_names():
    """Three cells with the same numbers: one reason, one set of numbers, three names; with a fourth cell of
    other numbers each keeps its own."""
    collapsed = {"what": "at or below collapse", "kind": "threshold", "select": {}, "measure": "test_acc"}
    collapsed |= {"op": "<=", "value": 0.2135}
    runs = table({"zeros": [0.1135] * 3, "ones": [0.1135] * 3, "twos": [0.1135] * 3})
    reason = judge(runs, collapsed).reason
    assert reason.startswith("3 of 3 cells undecided or split: ")
    assert reason.count("exact binomial test") == 1 and reason.count("median margin +") == 1, reason
    assert "3 cells, each median margin" in reason
    assert all(f"weights={w}" in reason for w in ("zeros", "ones", "twos"))
    runs = pd.concat([runs, table({"he": [0.15, 0.21, 0.27]})])
    assert judge(runs, collapsed).reason.count("median margin +") == 4


def test_every_claim_states_its_guarantee_and_what_it_means_beside_the_others():
    claims = {"claims": [{"id": str(i), "title": "c", "checks": [AT_HALF]} for i in range(8)]}
    found = evaluate(claims, table({"he": [0.6] * 6}), pd.DataFrame(), ["weights", "seed"])
    assert found[0].guarantee.startswith("rate of passing seeds vs 0.5, any law") and "≤ 0.043" in found[0].guarantee
    assert "each of the 8 claims' verdicts is wrong with chance ≤ 0.043" in found[0].family
    assert "≤ 0.34 (union bound)" in found[0].family
