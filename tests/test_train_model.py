"""nnscratch.train.model on a tiny network (7 inputs, 5 hidden units, 4 classes): a run config's initial
parameters, a model's trained part and its sync into the whole network, and the passes above the first
layer against the whole network's forward and backward (nnscratch.network)."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.network import RELU, backward, cross_entropy, forward_cache, init_params, layer_inits, one_hot
from nnscratch.run_config import DataConfig, ModelConfig, NormalInitConfig, RunConfig
from nnscratch.train.model import (
    FirstLayer,
    Labels,
    all_finite,
    build_params,
    constant_pass,
    live_pass,
    new_model,
    upper,
)

N_INPUTS, HIDDEN, N_CLASSES, N = 7, 5, 4, 9
CFG = RunConfig(
    DataConfig(name="tiny"),
    NormalInitConfig("normal", std=0.5),
    NormalInitConfig("normal", std=0.5),
    ModelConfig(hidden=[HIDDEN]),
    seed=3,
)
RNG = np.random.default_rng(0)
X = RNG.standard_normal((N_INPUTS, N)).astype(np.float32)
y = np.array([0, 1, 2, 3, 0, 1, 2, 3, 3])
Y = one_hot(y, N_CLASSES)


def test_build_params_draws_the_run_configs_layers_on_its_seed():
    params = build_params(CFG, N_INPUTS, N_CLASSES)
    assert [W.shape for W in params["W"]] == [(HIDDEN, N_INPUTS), (N_CLASSES, HIDDEN)]
    assert [b.shape for b in params["b"]] == [(HIDDEN, 1), (N_CLASSES, 1)]
    assert {p.dtype for group in params.values() for p in group} == {np.dtype(np.float32)}
    inits = layer_inits({"scheme": "normal", "std": 0.5}, 2)
    same = init_params([N_INPUTS, HIDDEN, N_CLASSES], inits, inits, seed=3)
    assert all(np.array_equal(a, b) for g in "Wb" for a, b in zip(params[g], same[g]))


def test_upper_is_the_layers_above_the_first_as_the_same_arrays():
    params = build_params(CFG, N_INPUTS, N_CLASSES)
    top = upper(params)
    assert top["W"][0] is params["W"][1] and top["b"][0] is params["b"][1] and len(top["W"]) == 1


def test_all_finite_finds_a_single_nan():
    params = build_params(CFG, N_INPUTS, N_CLASSES)
    assert all_finite(params)
    params["b"][1][2, 0] = np.nan
    assert not all_finite(params)


def test_a_new_model_trains_a_contiguous_copy_of_the_used_inputs_columns():
    inputs = np.array([0, 2, 5])
    m = new_model(CFG, N_INPUTS, N_CLASSES, inputs)
    W1 = m.trained["W"][0]
    assert np.array_equal(W1, m.params["W"][0][:, inputs]) and W1.flags.c_contiguous
    assert not np.shares_memory(W1, m.params["W"][0]) and not np.shares_memory(m.trained["b"][0], m.params["b"][0])
    assert m.trained["W"][1] is m.params["W"][1]  # every unit lives: W2 is the network's own
    assert np.array_equal(m.live, np.arange(HIDDEN)) and m.width == HIDDEN


def test_sync_copies_the_trained_live_rows_and_columns_into_the_whole_network():
    inputs, live = np.array([0, 2, 5]), np.array([1, 3])
    m = new_model(CFG, N_INPUTS, N_CLASSES, inputs)
    before = {g: [p.copy() for p in m.params[g]] for g in "Wb"}
    m.live = live
    m.trained["W"][0] = np.full((2, 3), 7.0, np.float32)
    m.trained["b"][0] = np.full((2, 1), 8.0, np.float32)
    m.trained["W"][1] = np.full((N_CLASSES, 2), 9.0, np.float32)
    m.sync()
    W1, b1, W2 = m.params["W"][0], m.params["b"][0], m.params["W"][1]
    assert (W1[np.ix_(live, inputs)] == 7).all() and (b1[live] == 8).all() and (W2[:, live] == 9).all()
    untouched = np.ones_like(W1, bool)
    untouched[np.ix_(live, inputs)] = False
    assert np.array_equal(W1[untouched], before["W"][0][untouched])  # dead rows, unused inputs: as they were
    assert np.array_equal(np.delete(W2, live, axis=1), np.delete(before["W"][1], live, axis=1))


def stacked_first_layer(m, extra: int) -> tuple[FirstLayer, slice]:
    """A stack's first-layer arrays with `extra` rows of another model above this one's; dZ1 NaN."""
    W1 = np.vstack([np.ones((extra, N_INPUTS), np.float32), m.trained["W"][0]])
    b1 = np.vstack([np.zeros((extra, 1), np.float32), m.trained["b"][0]])
    Z1 = W1 @ X + b1
    return FirstLayer(Z1, RELU(Z1), np.full_like(Z1, np.nan)), slice(extra, extra + HIDDEN)


def test_live_pass_gives_the_whole_networks_loss_and_gradients_and_writes_only_its_rows():
    m = new_model(CFG, N_INPUTS, N_CLASSES)
    first, rows = stacked_first_layer(m, extra=2)
    s = live_pass(m, first.rows(rows), Labels(y, Y), RELU)
    cache = forward_cache(m.params, X)
    whole = backward(m.params, cache, Y)
    assert s.loss == pytest.approx(cross_entropy(cache.log_probs, y), rel=1e-6)
    np.testing.assert_allclose(s.grads["W"][0], whole["W"][1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s.grads["b"][0], whole["b"][1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(first.dZ1[rows] @ X.T, whole["W"][0], rtol=1e-5, atol=1e-7)
    assert np.isnan(first.dZ1[:2]).all()  # the other model's rows of the stack: not written
    assert s.Z1.base is not None and np.shares_memory(s.Z1, first.Z1)  # a view, not a copy
    assert [A.shape for A in s.As] == [(HIDDEN, N)] and s.log_probs.shape == (N_CLASSES, N)


def test_constant_pass_of_a_model_with_every_unit_dead_is_the_whole_networks_pass():
    m = new_model(CFG, N_INPUTS, N_CLASSES)
    m.params["b"][0][:] = -100.0  # every pre-activation <= 0 on every sample: A1 = 0
    cache = forward_cache(m.params, X)
    whole = backward(m.params, cache, Y)
    m.live = np.array([], int)
    m.trained["W"][0], m.trained["b"][0] = m.trained["W"][0][:0], m.trained["b"][0][:0]
    m.trained["W"][1] = m.params["W"][1][:, m.live]
    s = constant_pass(m, y, RELU)
    assert s.log_probs.shape == (N_CLASSES, 1)  # one column stands for every sample
    assert s.weights == pytest.approx(np.bincount(y, minlength=N_CLASSES) / N)
    assert s.loss == pytest.approx(cross_entropy(cache.log_probs, y), rel=1e-6)
    np.testing.assert_allclose(s.grads["b"][0], whole["b"][1], rtol=1e-5, atol=1e-7)
    assert s.grads["W"][0].shape == (N_CLASSES, 0)
