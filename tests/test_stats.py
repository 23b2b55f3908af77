"""The statistics of a verdict (nnscratch.stats) and their calibration at small size: the engine's own
rule, round after round, on synthetic seeds of known law (benchmarks.calibration)."""

import numpy as np
import pytest
from scipy import stats as st

from benchmarks.calibration import Case, binomial_rule, calibrate, law_of
from nnscratch.claims import design
from nnscratch.run.adaptive import next_seeds, round_target
from nnscratch.stats import (
    binomial_crossing,
    binomial_design,
    clopper_pearson,
    decision_chance,
    futile,
    holm,
    looks_reachable,
    next_look,
    pass_rate_prior,
    seeds_to_come,
)

DESIGN = design({"confidence": 0.95})  # looks at 3, 6 and 10 seeds, power-0.5 spending, rate 0.5
REPS = 4000
TOL = 3 * np.sqrt(0.05 * 0.95 / REPS)  # three standard errors of a rate near 0.05 at REPS replications
SKEWED = ["rare_failure", "neg_gamma", "neg_lognormal", "outliers", "mixture", "t3"]
CASES = [Case(f"{law} at its median", law=law, centre="median") for law in SKEWED] + [
    Case("normal at its median", centre="median"),
    Case("every resume", centre="median", step=1),
    Case("seeds 42-44", centre="median", seeds=(42, 43, 44)),
    Case("seeds 42-44 before", centre="median", seeds=(42, 43, 44), numbering="lowest"),
    Case("rare failure, mean 0", law="rare_failure", centre="none"),
    Case("mu = 1.4 sd", mu=1.4),
]


@pytest.fixture(scope="module")
def table():
    rows = calibrate(CASES, DESIGN, DESIGN.last, REPS, seed=1, first=3)
    return {(r["case"], r["rule"].split()[0]): r for r in rows.to_dict("records")}


def test_the_design_is_exact_and_its_error_is_computed_not_simulated():
    """At p = 1/2: holding at 6 of 6 has chance 1/64; at 9 or 10 of 10 without 6 of 6 first, 6/1024."""
    assert DESIGN.upper == (4, 6, 9) and DESIGN.lower == (-1, 0, 1)
    assert DESIGN.spent_upper == pytest.approx((0, 1 / 64, 1 / 64 + 6 / 1024))
    assert DESIGN.error == pytest.approx(0.04296875) and DESIGN.error <= 0.05
    rng = np.random.default_rng(0)
    coins = rng.random((200_000, 10)) < 0.5
    decided = binomial_crossing(coins, DESIGN).direction[:, -1] != 0
    assert decided.mean() == pytest.approx(DESIGN.error, abs=4 * np.sqrt(0.043 / 200_000))
    strict = binomial_design(0.95, (3, 6, 10), "power 2")  # power-2 spending cannot afford 6 of 6 at 6
    assert strict.upper == (4, 7, 9) and strict.error < DESIGN.error


def test_a_rate_claim_can_be_refuted_early_but_not_supported_within_10_seeds():
    at_90 = binomial_design(0.95, (3, 6, 10), "power 0.5", 0.9)
    assert all(u > n for u, n in zip(at_90.upper, at_90.looks))  # 10 of 10 has chance 0.35 at 0.9
    assert at_90.lower == (0, 3, 6) and at_90.error <= 0.05


def test_the_stagewise_p_value_is_exact_and_a_look_that_crossed_stays_crossed():
    paths = np.array([[True] * 6 + [False] * 4, [True] * 5 + [False] + [True] * 4, [True, False] * 5])
    cross = binomial_crossing(paths, DESIGN)
    assert cross.direction[0].tolist() == [0] * 5 + [1] * 5  # decided at 6: later failures change nothing
    assert cross.direction[1].tolist() == [0] * 9 + [1]  # 9 of 10 at the last look
    assert cross.direction[2].tolist() == [0] * 10
    assert cross.p[0, -1] == pytest.approx(2 / 64) and cross.p[1, -1] == pytest.approx(2 * (1 / 64 + 6 / 1024))


def test_a_cell_that_no_look_can_decide_gets_no_more_seeds():
    assert looks_reachable(3, 3, DESIGN) == 6 and looks_reachable(2, 3, DESIGN) == 10
    assert looks_reachable(2, 4, DESIGN) is None  # 2 failures of 4: neither 9 of 10 nor 1 of 10 any more
    assert round_target(3, 10, 10, DESIGN.looks) == 10 and round_target(3, 6, 5, DESIGN.looks) == 5


def test_new_seeds_go_above_the_largest_so_a_looks_seeds_never_change():
    assert next_seeds([42, 43, 44], 3) == [45, 46, 47] and next_seeds([0, 1, 2], 1) == [3]
    assert next_seeds([], 2) == [0, 1]


def test_the_calibrations_laws_have_the_stated_shape():
    assert st.skew(law_of("neg_gamma").draw((200_000, 1), np.random.default_rng(0)).ravel()) == pytest.approx(
        -2.4, abs=0.15
    )
    assert law_of("mixture").mean == pytest.approx(-0.025)
    assert law_of("rare_failure").mean == pytest.approx(0.0, abs=0.005)
    assert law_of("neg_lognormal").cdf(law_of("neg_lognormal").median) == pytest.approx(0.5)


def test_every_law_on_its_threshold_is_decided_at_most_5_percent_of_the_time(table):
    """The engine's rule, any law; the t design it replaced decided -Gamma at its mean 16.4 % of 100,000
    replications (issue 40) and is measured here on the rare-failure law at mean 0: nearly 60 % wrong."""
    for case in [c.name for c in CASES[:9]]:
        assert table[(case, "binomial")]["P(wrong)"] <= 0.05 + TOL, case
    assert table[("rare failure, mean 0", "t")]["P(wrong)"] > 0.4  # the t rule: the wrong side of the mean
    assert table[("rare failure, mean 0", "binomial")]["P(wrong)"] == 0  # most seeds do pass


def test_seeds_numbered_from_the_lowest_unused_number_inflate_the_error(table):
    """Before, seeds 0, 1, 2 went in front of 42-44 and an earlier look was judged again on other data."""
    assert table[("seeds 42-44 before", "binomial")]["P(wrong)"] > table[("seeds 42-44", "binomial")]["P(wrong)"]


def test_a_normal_1_4_sd_effect_is_decided_right_80_percent_of_the_time_within_10_seeds(table):
    row = table[("mu = 1.4 sd", "binomial")]
    assert row["P(right)"] >= 0.80 - TOL and row["mean seeds"] <= 8  # 0.830 exactly, 7.6 seeds


def test_clopper_pearson_is_exact_and_zero_failures_state_the_closed_form():
    low, high = clopper_pearson(np.array([0, 2, 5]), np.array([3, 10, 5]), 0.95)
    assert high[0] == pytest.approx(1 - 0.025 ** (1 / 3)) and low[0] == 0
    exact = st.binomtest(2, 10).proportion_ci(0.95, method="exact")
    assert (low[1], high[1]) == pytest.approx((exact.low, exact.high))
    assert high[2] == 1 and low[2] == pytest.approx(0.025 ** (1 / 5))


def test_holm_steps_down_and_stops_at_the_first_kept_hypothesis():
    p = np.array([[0.01, 0.04, 0.03], [0.001, 0.2, 0.01], [0.02, 0.02, 0.02]])
    assert holm(p, 0.95).tolist() == [[True, False, False], [True, False, True], [False, False, False]]


LONG = binomial_design(0.95, (3, 6, 9, 12, 16), "power 0.5", 0.5, 0.5)  # stops 3 of 6 (chance 0.43 at 1.4 sd)
P_EFFECT = st.norm.cdf(1.4)  # a seed's pass chance at a 1.4-sd normal effect


def coins(p: float, reps: int, last: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random((reps, last)) < p, 1.0, -1.0)


def test_futility_stops_only_where_even_the_effect_would_rarely_be_decided():
    loose = binomial_design(0.95, (3, 6, 10), "power 0.5", 0.5, 0.6)
    # 1 of 3: only 0 passes in the next 7 fails it at 10; at a 1.4-sd effect on the failing side: 0.919^7
    assert decision_chance(np.array([1]), np.array([3]), loose, 1 - P_EFFECT)[0] == pytest.approx(P_EFFECT**7)
    assert futile(np.arange(4), np.full(4, 3), loose).tolist() == [False, True, True, False]  # 0.554 < 0.6
    assert not futile(np.arange(4), np.full(4, 3), DESIGN).any()  # no futility stop in a file without one
    assert not futile(np.array([5]), np.array([10]), loose)[0]  # the last look never stops for futility
    assert not futile(np.arange(4), np.full(4, 3), binomial_design(0.95, (3, 6, 10), "power 0.5", 0.5, 0.1)).any()
    # 3 of 6 at LONG: still decidable (13 of 16 passing), but even at 0.919 only with chance 0.43 < 0.5
    assert (
        looks_reachable(3, 6, LONG) == 16
        and futile(np.arange(7), np.full(7, 6), LONG).tolist() == [False] * 3 + [True] + [False] * 3
    )
    assert np.isnan(next_look(np.array([1]), np.array([3]), np.array([1]), loose)[0])
    assert next_look(np.array([3]), np.array([3]), np.array([3]), loose)[0] == 6


def test_with_a_futility_stop_a_cell_goes_one_look_at_a_time():
    assert round_target(3, 10, 10, DESIGN.looks) == 10  # 2 of 3: no look before 10 can decide it
    assert round_target(3, 10, 10, DESIGN.looks, by_look=True) == 6  # so that the look at 6 can stop it
    assert round_target(6, 10, 8, DESIGN.looks, by_look=True) == 8  # never past max_seeds


def test_futility_never_adds_a_decision_and_costs_the_effect_at_most_its_threshold():
    """Through the calibration's code path (the engine's rule, round after round) on the same draws: every
    decision with the stop is one without it, so the error stays within the design's; a 1.4-sd cell loses at
    most `below` (0.1) of its chance to be decided right; a cell on its threshold uses fewer seeds."""
    without = binomial_design(0.95, LONG.looks, LONG.spending, 0.5)
    for p, seed in ((0.5, 1), (P_EFFECT, 2)):
        draws = coins(p, REPS, LONG.last, seed)
        (stop, n_stop), (go, n_go) = (binomial_rule(Case("x"), draws, d, d.last, 3) for d in (LONG, without))
        assert ((stop == 0) | (stop == go)).all() and (n_stop <= n_go).all()
        if p == 0.5:
            assert (stop != 0).mean() <= LONG.error + TOL and n_stop.mean() < n_go.mean() - 1
        else:
            assert 0 < (go == 1).mean() - (stop == 1).mean() <= LONG.futility


def test_a_bad_futility_stop_is_refused_in_one_line_naming_the_form():
    assert design({"sequential": {"futility": 0.1}}).futility == 0.1 and design({}).futility is None
    assert design({"sequential": {"futility": {"below": 0.2, "effect": 1}}}).effect == 1.0
    for bad in ("often", {"below": 0.1, "when": 3}, {"below": 0.1, "effect": -1}, 1.5):
        with pytest.raises(ValueError, match="sequential.futility") as found:
            design({"sequential": {"futility": bad}})
        assert "\n" not in str(found.value)


@pytest.mark.parametrize("passes, n", [(0, 0), (1, 3), (2, 3), (3, 3), (5, 6), (3, 6), (2, 4)])
@pytest.mark.parametrize("prior", [(0.5, 0.5), (0.1, 0.05), (20.0, 20.0)])
@pytest.mark.parametrize("design_", [binomial_design(0.95, (3, 6, 10), "power 0.5", 0.5, 0.1), LONG])
def test_the_seeds_a_cell_is_expected_to_get_are_those_its_rule_gives_in_simulation(passes, n, prior, design_):
    """A pass rate drawn from the prior given the cell's passes, seeds drawn at it, given one look at a time by
    the rule that decides (a look holds or fails it, next_look stops it or sends it to the following look),
    counted after the next look, with the looks it went on from."""
    rng, reps = np.random.default_rng(0), 20_000
    chance = rng.beta(prior[0] + passes, prior[1] + n - passes, (reps, 1))
    later = [look for look in design_.looks if look > n]
    more = rng.random((reps, design_.last - n)) < chance
    seeds, rounds, going = np.zeros(reps), np.zeros(reps), np.ones(reps, bool)
    for look, following in zip(later, later[1:]):
        c = passes + more[:, : look - n].sum(axis=1)
        k = design_.looks.index(look)
        decided = (c >= design_.upper[k]) | (c <= design_.lower[k])
        going &= ~decided & ~np.isnan(next_look(c, np.full(reps, look), c, design_))
        seeds, rounds = seeds + going * (following - look), rounds + going
    expected = seeds_to_come(passes, n, design_, prior)
    for got, simulated in zip(expected, (seeds, rounds)):
        assert got == pytest.approx(simulated.mean(), abs=4 * simulated.std() / np.sqrt(reps) + 1e-9)
    assert expected.seeds <= design_.last - min(later) and expected.rounds <= len(later) - 1


def test_the_pass_rate_law_fitted_to_cells_is_the_one_they_were_drawn_from():
    rng = np.random.default_rng(1)
    for a, b, n in [(0.3, 0.2, 6), (4.0, 2.0, 10)]:
        passes = rng.binomial(n, rng.beta(a, b, 4_000))
        fitted = pass_rate_prior(tuple((int(k), n) for k in passes))
        assert fitted == pytest.approx((a, b), rel=0.2)
    assert pass_rate_prior(()) == (0.5, 0.5)
    assert pass_rate_prior(((3, 3), (0, 3)) * 20) == pytest.approx((0.05, 0.05))  # all or nothing: the bound
