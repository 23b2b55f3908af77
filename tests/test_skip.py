"""Skipping dead first-layer units and dead inputs (train.skip_dead) changes no number beyond float32
rounding, and skips only what is provably dead."""

import numpy as np
import pytest
from test_train import with_changes

from nnscratch.data import prepare
from nnscratch.diagnostics import accuracy
from nnscratch.network import predict, relu
from nnscratch.train import Stack, train, train_stack


def variant(base: dict, skip: bool, **changes) -> dict:
    return with_changes(base, train__skip_dead=skip, **changes)


@pytest.fixture(scope="module")
def unit(mnist):
    return prepare(mnist, 1000, "unit")


@pytest.fixture(scope="module")
def unscaled(mnist):
    return prepare(mnist, 1000, "none")


@pytest.fixture(scope="module")
def standardized(mnist):
    """No input is 0 on every sample (a blank pixel becomes a negative constant): with skipping on and
    off the same inputs go through the products, so where no unit dies the numbers are bit-identical."""
    data = prepare(mnist, 1000, "standardize")
    assert data.X_train.any(axis=1).all()
    return data


def assert_same_run(skipped, full) -> None:
    """The tolerances of issue #11: same outcome, |Δ test acc| <= 0.002, loss within rel. 1e-3,
    and every diagnostic of every evaluation where it is exact."""
    assert skipped.metrics["outcome"] == full.metrics["outcome"]
    assert abs(skipped.metrics["test_acc"] - full.metrics["test_acc"]) <= 0.002
    assert [h["iteration"] for h in skipped.history] == [h["iteration"] for h in full.history]
    for a, b in zip(skipped.history, full.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-3)
        for key in ("dead_l1", "distinct_l1", "test_classes"):  # nan: no unit of tanh can die
            assert a[key] == pytest.approx(b[key], rel=0, abs=0, nan_ok=True), (key, a["iteration"])
        # a pre-activation within float32 rounding of 0 may land on either side: a few activations
        assert a["zero_ratio_l1"] == pytest.approx(b["zero_ratio_l1"], abs=1e-3), a["iteration"]
        for key in ("act_mean_l1", "grad_norm_l1", "grad_norm_out"):
            assert a[key] == pytest.approx(b[key], rel=1e-3, abs=1e-7), (key, a["iteration"])


def test_unscaled_run_dies_early_and_skipping_changes_nothing(small_config, unscaled):
    on, off = train(variant(small_config, True), unscaled), train(variant(small_config, False), unscaled)
    assert max(h["dead_l1"] for h in on.history) >= 0.5  # the case that matters: most units die
    assert_same_run(on, off)


def test_zero_weights_and_biases_every_unit_dead_from_the_start(small_config, unit):
    cfg = dict(weights__scheme="zeros", biases__scheme="zeros")
    on, off = train(variant(small_config, True, **cfg), unit), train(variant(small_config, False, **cfg), unit)
    assert all(h["dead_l1"] == 1.0 for h in on.history)
    assert_same_run(on, off)
    assert on.history[-1]["train_acc"] == pytest.approx(off.history[-1]["train_acc"], abs=1e-9)


def test_a_stack_mixing_dying_and_healthy_models_equals_itself_unskipped(small_config, unit):
    changes = [
        dict(model__hidden=[10]),
        dict(model__hidden=[32], biases__scheme="normal", seed=1),
        dict(model__hidden=[16], weights__scheme="zeros", biases__scheme="normal", seed=2),  # half dead at once
        dict(model__hidden=[10], weights__scheme="zeros"),  # all dead at once
        dict(model__hidden=[24], weights__scheme="normal", train__lr=5.0, seed=3),  # dies while training
    ]
    on = train_stack([variant(small_config, True, **c) for c in changes], unit)
    off = train_stack([variant(small_config, False, **c) for c in changes], unit)
    for a, b in zip(on, off):
        assert_same_run(a, b)
    dead = [r.history[-1]["dead_l1"] for r in on]
    assert dead[0] < 1 and dead[3] == 1 and 0 < dead[2] < 1


def test_skipped_units_are_exactly_the_units_dead_on_every_training_sample(small_config, unscaled):
    stack = Stack([variant(small_config, True, model__hidden=[64], data__subset=1000)], unscaled)
    model = stack.models[0]
    stack.cfg.train.iterations = 30
    stack.train()
    W1, b1 = model.params["W"][0], model.params["b"][0]
    alive = relu(W1 @ unscaled.X_train + b1).max(axis=1) > 0
    skipped = np.setdiff1d(np.arange(64), model.live)
    assert len(skipped) > 0
    assert not alive[skipped].any()  # never skipped while alive on any training sample
    assert alive[model.live].all()  # and every dead unit was found (full batch: checked every iteration)


def test_deeper_layers_are_never_skipped(small_config, standardized):
    """Layer-2 units that are dead now could revive as layer 1 changes: they stay in the products.
    With layer 1 alive throughout (and no dead input), skipping on and off are the same computation,
    bit for bit."""
    cfg = dict(model__hidden=[32, 16], weights__scheme="he", weights__per_layer=None)
    on = Stack([variant(small_config, True, **cfg)], standardized)
    on.models[0].params["b"][1][:8] = -50.0  # half of layer 2 dead from the start
    off = Stack([variant(small_config, False, **cfg)], standardized)
    off.models[0].params["b"][1][:8] = -50.0
    a, b = on.train()[0], off.train()[0]
    assert a.history[0]["dead_l2"] >= 0.5 and a.history[-1]["dead_l1"] == 0
    assert a.history == b.history
    assert on.models[0].trained["W"][1].shape == (16, 32)


def test_minibatch_skips_only_units_found_dead_on_the_whole_set(small_config, unscaled):
    cfg = dict(train__batch_size=100, train__iterations=100, train__eval_every=1)  # every epoch: 10 batches
    on, off = train(variant(small_config, True, **cfg), unscaled), train(variant(small_config, False, **cfg), unscaled)
    assert_same_run(on, off)
    early = [1, 2, 4, 8]  # and at batches 1, 2, 4, 8 of the first epoch (nnscratch.train: the early internals)
    assert [h["iteration"] for h in on.history] == sorted([*range(0, 101, 10), *early])  # evaluations every epoch
    stack = Stack([variant(small_config, True, **cfg)], unscaled)
    stack.train()
    assert len(stack.models[0].live) < 10  # units found dead at an evaluation left the products


@pytest.mark.parametrize(
    "rule", [{}, dict(activation__name="tanh", optimizer__name="adam", train__lr=0.01)], ids=["relu-gd", "tanh-adam"]
)
def test_inputs_blank_on_every_training_image_leave_the_products_and_keep_their_weights(small_config, unit, rule):
    """Any activation, any update rule: a pixel that is 0 on the whole training set gets zero gradient.
    Its weights stay as drawn, and the test set, where it may be lit, still goes through them."""
    blank = ~unit.X_train.any(axis=1)
    assert blank.sum() > 50 and unit.X_test[blank].any()  # the case that matters: lit on test images
    stack = Stack([variant(small_config, True, **rule)], unit)
    assert stack.X.shape == (784 - blank.sum(), 1000)
    stack.admit()
    assert stack.W1.shape == (10, 784 - blank.sum()) and stack.W1.flags.c_contiguous  # `W -= lr * dW` stays flat
    W1_start = stack.models[0].params["W"][0].copy()
    on = stack.train()[0]
    W1 = stack.models[0].params["W"][0]
    assert np.array_equal(W1[:, blank], W1_start[:, blank])
    assert (W1[:, ~blank] != W1_start[:, ~blank]).mean() > 0.5
    assert on.metrics["test_acc"] == accuracy(predict(stack.models[0].params, unit.X_test, stack.act), unit.y_test)
    assert_same_run(on, train(variant(small_config, False, **rule), unit))
