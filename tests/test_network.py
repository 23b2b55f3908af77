import numpy as np
import pytest

from nnscratch.network import (
    ACTIVATIONS,
    BIAS_INITS,
    RELU,
    WEIGHT_INITS,
    Activation,
    Init,
    backward,
    cross_entropy,
    forward,
    forward_cache,
    init_params,
    log_softmax,
    one_hot,
)


def loss_of(params, X, y, act=RELU):
    Zs, _ = forward(params, X, act=act)
    return cross_entropy(log_softmax(Zs[-1]), y)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("hidden", [[5], [6, 4]])
def test_backward_matches_finite_differences(hidden, name):
    act = Activation(name, slope=0.1)
    rng = np.random.default_rng(0)
    sizes = [7, *hidden, 10]
    n = len(sizes) - 1
    params = init_params(sizes, [Init("normal", 0.5)] * n, [Init("normal", 0.5)] * n, seed=1, dtype="float64")
    X, y = rng.standard_normal((7, 13)), rng.integers(0, 10, 13)
    cache = forward_cache(params, X, act)
    assert all(np.abs(Z).min() > 1e-4 for Z in cache.Zs[:-1])  # no pre-activation within eps of a kink
    grads = backward(params, cache, one_hot(y, 10, "float64"), act=act)
    eps = 1e-6
    for group in ("W", "b"):
        for p, g in zip(params[group], grads[group]):
            numeric = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + eps
                up = loss_of(params, X, y, act)
                p[i] = old - eps
                down = loss_of(params, X, y, act)
                p[i] = old
                numeric[i] = (up - down) / (2 * eps)
            # every entry checked; relative to the tensor's gradient scale, as tiny entries are all rounding
            rel = np.abs(g - numeric).max() / max(np.abs(g).max(), 1e-12)
            assert rel < 1e-6, (group, rel)


def test_activations_at_their_kinks_and_limits():
    Z = np.array([[-2.0, 0.0, 3.0]], dtype=np.float32)
    leaky = Activation("leaky_relu", slope=0.01)
    assert leaky(Z)[0].tolist() == pytest.approx([-0.02, 0.0, 3.0])
    assert leaky.grad(Z, leaky(Z))[0].tolist() == pytest.approx([0.01, 0.01, 1.0])  # the kink takes the slope
    relu = Activation("relu")
    assert relu.grad(Z, relu(Z)).tolist() == [[False, False, True]]  # relu'(0) = 0, the tutorial's Z > 0
    sig = Activation("sigmoid")
    big = np.array([[-200.0, 0.0, 200.0]], dtype=np.float32)
    assert sig(big).tolist() == [[0.0, 0.5, 1.0]] and sig(big).dtype == np.float32
    assert all(Activation(n)(Z).dtype == np.float32 for n in ACTIVATIONS)
    assert relu.can_die and not any(Activation(n).can_die for n in ACTIVATIONS if n != "relu")


def test_log_softmax_is_stable_for_huge_logits():
    Z = np.array([[1e4, -1e4], [0.0, 0.0]], dtype=np.float32)
    out = log_softmax(Z)
    assert np.isfinite(out).all() and out.dtype == np.float32
    assert np.allclose(np.exp(out).sum(axis=0), 1)


@pytest.mark.parametrize(
    "scheme,mean,std",
    [
        ("uniform", 0.0, (1 / 12) ** 0.5),  # U(-0.5, 0.5)
        ("normal", 0.0, 1.0),
        ("he", 0.0, (2 / 400) ** 0.5),
        ("xavier", 0.0, (2 / (400 + 300)) ** 0.5),
    ],
)
def test_weight_scheme_statistics(scheme, mean, std):
    W = WEIGHT_INITS[scheme](np.random.default_rng(0), 300, 400, 1.0, np.float32)
    assert W.shape == (300, 400) and W.dtype == np.float32
    assert abs(W.mean() - mean) < 0.01 * max(std, 0.1)
    assert abs(W.std() - std) / std < 0.02
    if scheme == "uniform":
        assert W.min() >= -0.5 and W.max() < 0.5


def test_normal_std_from_config_and_zeros():
    W = WEIGHT_INITS["normal"](np.random.default_rng(0), 200, 500, 0.01, np.float32)
    assert abs(W.std() - 0.01) < 0.0005
    assert not WEIGHT_INITS["zeros"](None, 3, 4, 1.0, np.float32).any()
    b = BIAS_INITS["normal"](np.random.default_rng(0), 5000, 1.0, np.float32)
    assert b.shape == (5000, 1) and abs(b.std() - 1) < 0.05
    assert not BIAS_INITS["zeros"](None, 5, 1.0, np.float32).any()


def test_per_layer_weights_give_the_logs_zero_w1_with_random_w2():
    params = init_params([784, 10, 10], [Init("zeros"), Init("uniform")], [Init("zeros")] * 2, seed=0)
    assert not params["W"][0].any() and params["W"][1].std() > 0.1


def test_changing_bias_scheme_keeps_the_weights():
    a = init_params([784, 10, 10], [Init("uniform")] * 2, [Init("zeros")] * 2, seed=3)
    b = init_params([784, 10, 10], [Init("uniform")] * 2, [Init("normal")] * 2, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a["W"], b["W"]))


def test_default_dtype_is_float32_through_forward_and_backward():
    params = init_params([784, 10, 10], [Init("uniform")] * 2, [Init("zeros")] * 2, seed=0)
    X = np.random.default_rng(0).random((784, 50), dtype=np.float32)
    y = np.arange(50) % 10
    cache = forward_cache(params, X)
    grads = backward(params, cache, one_hot(y, 10))
    assert {a.dtype for a in [*cache.Zs, *cache.As, *grads["W"], *grads["b"]]} == {np.dtype(np.float32)}
