"""One step of each update rule against the formula worked by hand on a tiny network."""

import numpy as np
import pytest

from nnscratch.optimizers import GD, Adam, Momentum, make_optimizer


def tiny():
    params = {"W": [np.array([[1.0, -2.0]], np.float32)], "b": [np.array([[0.5]], np.float32)]}
    grads = lambda: {"W": [np.array([[0.2, -0.4]], np.float32)], "b": [np.array([[1.0]], np.float32)]}
    return params, grads


def test_gd_is_the_logs_step():
    params, grads = tiny()
    GD().step(params, grads(), np.float32(0.1))
    assert params["W"][0][0].tolist() == pytest.approx([0.98, -1.96]) and params["b"][0][0, 0] == pytest.approx(0.4)


def test_momentum_keeps_moving_after_the_gradient_is_gone():
    params, grads = tiny()
    opt = Momentum(0.9)
    opt.step(params, grads(), np.float32(0.1))  # v = g:  W = 1 - 0.1 * 0.2
    assert params["W"][0][0, 0] == pytest.approx(0.98)
    opt.step(params, {"W": [np.zeros((1, 2), np.float32)], "b": [np.zeros((1, 1), np.float32)]}, np.float32(0.1))
    assert params["W"][0][0, 0] == pytest.approx(0.98 - 0.1 * 0.9 * 0.2)  # v = 0.9 * 0.2 + 0
    assert params["W"][0].dtype == np.float32 and opt.v["W"][0].dtype == np.float32


def test_adam_first_two_steps_by_hand():
    params, grads = tiny()
    opt = make_optimizer({"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
    assert isinstance(opt, Adam)
    lr, g = 0.01, 0.2
    opt.step(params, grads(), np.float32(lr))
    # t = 1: m = 0.1 g, v = 0.001 g^2; m_hat = g, v_hat = g^2: the step is lr * g / (|g| + eps)
    assert params["W"][0][0, 0] == pytest.approx(1 - lr * g / (g + 1e-8), rel=1e-6)
    opt.step(params, grads(), np.float32(lr))
    m = 0.9 * 0.1 * g + 0.1 * g
    v = 0.999 * 0.001 * g * g + 0.001 * g * g
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = 1 - lr * g / (g + 1e-8) - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert params["W"][0][0, 0] == pytest.approx(expected, rel=1e-6)
    assert params["b"][0].dtype == np.float32 and opt.m["b"][0].dtype == np.float32


def test_a_step_leaves_the_gradients_as_they_were():
    """A Pass's gradients are read after the step (history, tests): GD must not scale them in place."""
    rng = np.random.default_rng(0)
    params = {"W": [rng.random((3, 4), dtype=np.float32)], "b": [rng.random((3, 1), dtype=np.float32)]}
    grads = {"W": [rng.random((3, 4), dtype=np.float32)], "b": [rng.random((3, 1), dtype=np.float32)]}
    before = {g: [a.copy() for a in v] for g, v in grads.items()}
    expected = params["W"][0] - np.float32(0.1) * grads["W"][0]
    for name in ("gd", "momentum", "adam"):
        make_optimizer({"name": name}).step(params if name == "gd" else copy_params(params), grads, np.float32(0.1))
        assert all(np.array_equal(a, b) for g in grads for a, b in zip(grads[g], before[g])), name
    assert np.array_equal(params["W"][0], expected)


def copy_params(params: dict) -> dict:
    return {g: [a.copy() for a in v] for g, v in params.items()}
