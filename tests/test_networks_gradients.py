"""nnscratch.networks.gradients on tiny arrays: the relative error, central finite differences, and the
mistake a wrong gradient is read as (transposed, summed over units, a factor of m, a flipped sign)."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.networks.gradients import TOLERANCE, compare, numeric_gradient, relative_error

RIGHT = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])  # a (units 2, inputs 3) gradient
BIAS = np.array([[0.2], [-0.5]])  # a (units 2, 1) gradient


def test_relative_error_is_zero_for_equal_and_one_for_opposite_arrays():
    assert relative_error(RIGHT, RIGHT.copy()) == 0.0
    assert relative_error(RIGHT, -RIGHT) == pytest.approx(1.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([3.0, 0.0]), np.array([0.0, 4.0])) == pytest.approx(5 / 7)


def test_numeric_gradient_of_a_cubic_matches_its_derivative_and_restores_the_point():
    P = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = P.copy()
    grad = numeric_gradient(lambda: float((P**3).sum()), P)
    assert grad == pytest.approx(3 * before**2, rel=1e-6)
    assert np.array_equal(P, before)


def test_numeric_gradient_leaves_out_entries_not_asked_for():
    P = np.array([1.0, 2.0, 3.0])
    grad = numeric_gradient(lambda: float((P**2).sum()), P, entries=np.array([0, 2]))
    assert grad[[0, 2]] == pytest.approx([2.0, 6.0]) and np.isnan(grad[1])


def test_a_right_gradient_passes_and_nan_entries_are_not_compared():
    assert compare("dW1", RIGHT * (1 + TOLERANCE / 10), RIGHT, 8) is None
    numeric = RIGHT.copy()
    numeric[0, 0] = np.nan
    assert compare("dW1", RIGHT + [[5.0, 0, 0], [0, 0, 0]], numeric, 8) is None


def test_a_transposed_gradient_is_named_so():
    found = compare("dW1", RIGHT.T, RIGHT, 8)
    assert found.what == "is transposed: (3, 2) where (2, 3) is expected"


def test_one_number_summed_over_units_is_told_from_a_per_unit_bias():
    found = compare("db1", np.float64(BIAS.sum()), BIAS, 8)
    assert found.what == "is one number where one per unit (2) is due: it sums over units as well as samples"
    assert found.evidence.startswith("-0.3 = the sum of the right gradient over every unit")


def test_a_bias_without_its_column_axis_is_named_so():
    found = compare("db1", BIAS[:, 0], BIAS, 8)
    assert found.what.startswith("has shape (2,) where (2, 1) is expected")


def test_the_same_number_for_every_unit_is_read_as_a_sum_over_units():
    found = compare("db1", np.full((2, 1), 7.0), BIAS, 8)
    assert found.what == "the same number for every unit: it sums over units as well as samples"


@pytest.mark.parametrize(
    ("factor", "what"),
    [
        (8.0, "is not divided by m: 8 times too large on a batch of 8"),
        (1 / 8, "is divided by m twice: 8 times too small on a batch of 8"),
        (-1.0, "has the wrong sign: it is the gradient of -loss"),
        (8 / 100, "divides by m = 100 where the batch has 8 samples"),
        (2.5, "is off by a factor 2.5"),
    ],
)
def test_a_gradient_off_by_a_factor_names_which_m_went_wrong(factor, what):
    assert compare("dW2", factor * RIGHT, RIGHT, 8).what.startswith(what)


def test_an_unrelated_gradient_points_at_its_largest_difference():
    mine = RIGHT.copy()
    mine[1, 2] = 0.6
    found = compare("dW1", mine, RIGHT, 8)
    assert found.what == "disagrees with the finite-difference gradient"
    assert "largest at (1, 2): 0.6 vs -0.6" in found.evidence
    assert "dW1 = 1 / m * dZ1.dot(X.T)" in found.fix
