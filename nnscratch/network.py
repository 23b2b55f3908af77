"""A ReLU/softmax MLP in NumPy: parameters, forward pass and hand-written backward pass.
Hidden layers may also use leaky ReLU, tanh or sigmoid (`Activation`).

Layout is the learning log's: one column per sample. For the log's 784 -> 10 -> 10 network

    Z1 = W1 @ X + b1     A1 = relu(Z1)          W1: (10, 784)  b1: (10, 1)  X: (784, N)
    Z2 = W2 @ A1 + b2    A2 = softmax(Z2)       W2: (10, 10)   b2: (10, 1)

and any depth is the same with lists ``W[l], b[l]`` indexed by layer (0-based in code). One whole
iteration of the log's network (forward, backward, update), written out: nnscratch.train.iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Params = dict[str, list[np.ndarray]]  # {"W": [W1, W2, ...], "b": [b1, b2, ...]}


# ---------------------------------------------------------------- initialisation schemes
# Each takes (rng, fan_out, fan_in, std, dtype) and returns a (fan_out, fan_in) array.

WEIGHT_INITS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": lambda rng, n_out, n_in, std, dt: np.zeros((n_out, n_in), dt),
    # the tutorial's np.random.rand(...) - 0.5
    "uniform": lambda rng, n_out, n_in, std, dt: rng.random((n_out, n_in), dt) - dt(0.5),
    # std 1 is the log's randn; std 0.01 its "small Gaussian values"
    "normal": lambda rng, n_out, n_in, std, dt: rng.standard_normal((n_out, n_in), dt) * dt(std),
    "he": lambda rng, n_out, n_in, std, dt: rng.standard_normal((n_out, n_in), dt) * dt(np.sqrt(2 / n_in)),
    "xavier": lambda rng, n_out, n_in, std, dt: (
        (rng.random((n_out, n_in), dt) * dt(2) - dt(1)) * dt(np.sqrt(6 / (n_in + n_out)))
    ),
}
BIAS_INITS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": lambda rng, n_out, std, dt: np.zeros((n_out, 1), dt),
    "normal": lambda rng, n_out, std, dt: rng.standard_normal((n_out, 1), dt) * dt(std),
}


@dataclass(frozen=True)
class Init:
    """One layer's initialisation: a scheme name from the table and its std (for 'normal')."""

    scheme: str
    std: float = 1.0


def init_params(sizes: list[int], weights: list[Init], biases: list[Init], seed: int, dtype: str = "float32") -> Params:
    """Parameters for layer sizes e.g. [784, 10, 10]; `weights`, `biases`: one Init per layer.

    Weights are drawn layer by layer, then biases, from one seeded generator, so changing a bias
    scheme never changes the weights.
    """
    rng, dt = np.random.default_rng(seed), np.dtype(dtype).type
    layers = list(zip(sizes[1:], sizes[:-1]))
    W = [WEIGHT_INITS[w.scheme](rng, n_out, n_in, w.std, dt) for (n_out, n_in), w in zip(layers, weights)]
    b = [BIAS_INITS[bi.scheme](rng, n_out, bi.std, dt) for (n_out, _), bi in zip(layers, biases)]
    return {"W": W, "b": b}


# ---------------------------------------------------------------- forward


def relu(Z: np.ndarray) -> np.ndarray:
    """max(Z, 0), elementwise: Z is (units, N), and so is the result."""
    return np.maximum(Z, 0)


def leaky_relu(Z: np.ndarray, slope: float, out: np.ndarray | None = None) -> np.ndarray:
    """Z where Z > 0, else slope * Z, elementwise: Z (units, N) -> (units, N), into `out` if given."""
    return np.multiply(Z, np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(slope)), out=out)


def sigmoid(Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-Z)), elementwise: Z (units, N) -> (units, N), into `out` if given."""
    with np.errstate(over="ignore"):  # exp(-z) -> inf for very negative z gives 1 / inf = 0, as it should
        return np.divide(1, 1 + np.exp(-Z), out=out, dtype=Z.dtype)


# f(Z, slope, out) and f'(Z, A = f(Z), slope), side by side, as scikit-learn's ACTIVATIONS / DERIVATIVES
ACTIVATIONS = {
    "relu": lambda Z, slope, out=None: np.maximum(Z, 0, out=out),
    "leaky_relu": leaky_relu,
    "tanh": lambda Z, slope, out=None: np.tanh(Z, out=out),
    "sigmoid": lambda Z, slope, out=None: sigmoid(Z, out=out),
}
DERIVATIVES = {
    "relu": lambda Z, A, slope: Z > 0,  # relu'(0) = 0, the tutorial's `Z > 0`
    "leaky_relu": lambda Z, A, slope: np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(slope)),
    "tanh": lambda Z, A, slope: 1 - A * A,
    "sigmoid": lambda Z, A, slope: A * (1 - A),
}


@dataclass(frozen=True)
class Activation:
    """A hidden layer's activation and its derivative (ACTIVATIONS, DERIVATIVES). `slope` is leaky
    ReLU's gradient for z <= 0. Each keeps the dtype of Z."""

    name: str = "relu"
    slope: float = 0.01

    def __call__(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """A = f(Z): Z (units, N) -> (units, N), into `out` if given."""
        return ACTIVATIONS[self.name](Z, self.slope, out=out)

    def grad(self, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
        """dA/dZ (units, N) from the pre-activation Z (units, N) and the activation A = f(Z)."""
        return DERIVATIVES[self.name](Z, A, self.slope)

    @property
    def can_die(self) -> bool:
        """Whether a unit's gradient can be exactly zero on every sample: only ReLU's."""
        return self.name == "relu"


RELU = Activation("relu")


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise log softmax of logits (10, N); shifting by the max keeps exp() finite."""
    shifted = Z - Z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def forward(
    params: Params, X: np.ndarray, first_extra: np.ndarray | None = None, act: Activation = RELU
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations Z and activations A of every layer.

    Returns Zs = [Z1, ..., ZL] and As = [X, A1, ..., A(L-1)] (inputs of each layer); the output
    of the last layer is log_softmax(ZL), kept in log space for a stable loss. `first_extra`
    (units of the first layer, N), if given, is added to Z1: a fixed input from units left out of X.
    """
    Ws, bs = params["W"], params["b"]
    Zs, As = [], [X]
    for layer, (W, b) in enumerate(zip(Ws, bs)):
        Z = W @ As[-1]
        if layer == 0 and first_extra is not None:
            Z += first_extra
        Z += b  # in place: one pass over (units, N) less than `W @ A + b`
        Zs.append(Z)
        if layer < len(Ws) - 1:
            As.append(act(Z))
    return Zs, As


def cross_entropy(log_probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of labels y (N,) under log_probs (10, N)."""
    return float(-log_probs[y, np.arange(len(y))].mean())


def predict(params: Params, X: np.ndarray, act: Activation = RELU) -> np.ndarray:
    """Predicted class per column of X: (N,) int."""
    Zs, _ = forward(params, X, act=act)
    return Zs[-1].argmax(axis=0)


# ---------------------------------------------------------------- backward


@dataclass(frozen=True)
class Cache:
    """What the backward pass reads of a forward pass: Zs = [Z1, ..., ZL] and As = [X, A1, ..., A(L-1)]
    as `forward` returns them, and log_probs = log_softmax(ZL) (classes, N), the log of the log's A2."""

    Zs: list[np.ndarray]
    As: list[np.ndarray]
    log_probs: np.ndarray


def forward_cache(params: Params, X: np.ndarray, act: Activation = RELU) -> Cache:
    """The forward pass of X (inputs, N), kept for `backward`."""
    Zs, As = forward(params, X, act=act)
    return Cache(Zs, As, log_softmax(Zs[-1]))


def backward(params: Params, cache: Cache, Y: np.ndarray, input_grad: bool = False, act: Activation = RELU) -> Params:
    """Gradients of the mean cross-entropy w.r.t. every W and b (and, if asked, the input: "dX").

    `cache` is the forward pass of these params; Y is the one-hot (10, N) label matrix. For the
    softmax + cross-entropy output dZL = (AL - Y) / N, then for each layer going down
        dW = dZ @ A_prev.T,  db = sum(dZ over samples),  dZ_prev = (W.T @ dZ) * f'(Z_prev)
    with f the hidden activation (ReLU by default: relu'(0) = 0, the tutorial's `Z > 0`).
    """
    Ws, Zs, As = params["W"], cache.Zs, cache.As
    n = Y.shape[1]
    dZ = (np.exp(cache.log_probs) - Y) / Y.dtype.type(n)
    dWs, dbs = [], []
    for layer in range(len(Ws) - 1, -1, -1):
        dWs.append(dZ @ As[layer].T)
        dbs.append(dZ.sum(axis=1, keepdims=True))
        if layer > 0:
            dZ = Ws[layer].T @ dZ
            dZ *= act.grad(Zs[layer - 1], As[layer])
    grads = {"W": dWs[::-1], "b": dbs[::-1]}
    if input_grad:
        grads["dX"] = [Ws[0].T @ dZ]
    return grads


def one_hot(y: np.ndarray, n_classes: int, dtype: str = "float32") -> np.ndarray:
    """Labels (N,) -> one-hot (n_classes, N)."""
    Y = np.zeros((n_classes, len(y)), dtype)
    Y[y, np.arange(len(y))] = 1
    return Y


def layer_inits(init: dict, n_layers: int) -> list[Init]:
    """One Init per layer from {"scheme", "std", "per_layer"}; per_layer entries override the scheme,
    e.g. per_layer: [zeros, uniform] is the log's literal W1 = 0 with a random W2."""
    per_layer = init.get("per_layer") or [init["scheme"]] * n_layers
    std = float(init.get("std", 1.0))
    return [Init(p, std) if isinstance(p, str) else Init(p["scheme"], float(p.get("std", std))) for p in per_layer]
