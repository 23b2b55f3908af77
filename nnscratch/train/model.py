"""One model inside a stack: its whole network, the part of it the iterations update, and one
forward and backward pass of the layers above the stacked first layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnscratch.network import (
    Activation,
    Params,
    backward,
    cross_entropy,
    forward_cache,
    init_params,
    layer_inits,
)
from nnscratch.optimizers import make_optimizer
from nnscratch.run_config import RunConfig


def build_params(cfg: RunConfig, n_inputs: int, n_classes: int) -> Params:
    """Initial parameters for a run config on data of `n_inputs` inputs and `n_classes` classes
    (the loaded dataset's: Prepared.n_inputs, Prepared.n_classes)."""
    hidden = list(cfg.model.hidden)
    n_layers = len(hidden) + 1
    return init_params(
        [n_inputs, *hidden, n_classes],
        layer_inits(vars(cfg.weights), n_layers),
        layer_inits(vars(cfg.biases), n_layers),
        cfg.seed,
        cfg.model.dtype,
    )


def all_finite(params: Params) -> bool:
    return all(np.isfinite(p).all() for group in params.values() for p in group)


def upper(params: Params) -> Params:
    """The layers above the first."""
    return {"W": params["W"][1:], "b": params["b"][1:]}


@dataclass
class Model:
    """One run of a stack.

    params: the whole network, as the records see it (dead units' rows and columns frozen, live
    ones copied in from `trained` at every evaluation). trained: what the iterations update: W1, b1
    as views of the model's rows of the stack (W1 with the used inputs' columns only), W2 with the
    live units' columns only, deeper layers shared with params. live: indices of the first-layer
    units still trained; inputs: of the inputs used (None: all).
    """

    cfg: RunConfig
    params: Params
    trained: Params
    live: np.ndarray
    inputs: np.ndarray | None = None
    rows: slice = field(default_factory=lambda: slice(0, 0))
    test_extra: np.ndarray | None = None  # dead units' fixed share of the test set's Z2: (units of layer 2, N_test)
    history: list[dict] = field(default_factory=list)
    final: dict | None = None
    unit_passes: int = 0  # first-layer units computed, summed over passes: the work actually done
    n_passes: int = 0  # passes over the data (iterations, or batches)
    iteration: int = 0  # each model counts its own: a stack admits a model when another leaves
    admitted: bool = False
    test_pred: tuple[int, np.ndarray] | None = None  # (iteration, predicted test classes)
    optimizer: object = None  # nnscratch.optimizers: its state belongs to this model's parameters

    @property
    def width(self) -> int:
        return self.params["W"][0].shape[0]

    def sync(self) -> None:
        """Copy the trained live rows and columns into the whole network."""
        W, b, live = self.params["W"], self.params["b"], self.live
        W[0][live if self.inputs is None else np.ix_(live, self.inputs)] = self.trained["W"][0]
        b[0][live] = self.trained["b"][0]
        if self.trained["W"][1] is not W[1]:
            W[1][:, live] = self.trained["W"][1]


@dataclass
class Pass:
    """One forward and backward pass of a model: loss, gradients of `trained`, the activations of each
    hidden layer (first: live units only) and the output log-probabilities. With no live unit, every
    sample is the same column: As and log_probs have one column, `weights` its class frequencies."""

    loss: float
    grads: Params
    As: list[np.ndarray]
    log_probs: np.ndarray
    weights: np.ndarray | None = None
    Z1: np.ndarray | None = None  # the first layer's pre-activations of the live units (a view of the stack's)


@dataclass(frozen=True)
class FirstLayer:
    """The stacked first layer's arrays of one pass, (rows, N) each: pre-activations Z1, activations
    A1 = f(Z1), and dZ1, which the backward pass writes."""

    Z1: np.ndarray
    A1: np.ndarray
    dZ1: np.ndarray

    def rows(self, rows: slice) -> FirstLayer:
        """One model's rows of each array (views)."""
        return FirstLayer(self.Z1[rows], self.A1[rows], self.dZ1[rows])


@dataclass(frozen=True)
class Labels:
    """A pass's labels: y (N,) int and their one-hot Y (classes, N)."""

    y: np.ndarray
    Y: np.ndarray


def live_pass(model: Model, first: FirstLayer, labels: Labels, act: Activation) -> Pass:
    """Forward and backward above the first layer, from the model's rows of the first layer's arrays;
    writes its dZ1 into first.dZ1 (a view of the stack's)."""
    top = upper(model.trained)
    cache = forward_cache(top, first.A1, act)
    grads = backward(top, cache, labels.Y, input_grad=True, act=act)
    np.multiply(grads.pop("dX")[0], act.grad(first.Z1, first.A1), out=first.dZ1)
    return Pass(cross_entropy(cache.log_probs, labels.y), grads, cache.As, cache.log_probs, Z1=first.Z1)


def constant_pass(model: Model, y: np.ndarray, act: Activation) -> Pass:
    """Every first-layer unit dead: each sample reaches layer 2 as the same zero vector, so the mean
    over samples of the softmax gradient is (p - class frequencies) of one column."""
    dt = model.trained["W"][0].dtype
    share = np.bincount(y, minlength=model.params["W"][-1].shape[0]) / len(y)  # one entry per class
    freq = share.astype(dt)[:, None]
    top = upper(model.trained)
    cache = forward_cache(top, np.zeros((0, 1), dt), act)
    grads = backward(top, cache, freq, act=act)
    return Pass(float(-(freq * cache.log_probs).sum()), grads, cache.As, cache.log_probs, share)


def new_model(cfg: RunConfig, n_inputs: int, n_classes: int, inputs: np.ndarray | None = None) -> Model:
    """A model of a dataset's `n_inputs` and `n_classes` to train on the given inputs (None: all)."""
    params = build_params(cfg, n_inputs, n_classes)
    trained = {g: list(ps) for g, ps in params.items()}
    W1 = params["W"][0]
    # C order, as every other array of the step: a[:, idx] comes out in Fortran order, and a stack of
    # one would keep it (np.vstack follows its inputs), making `W -= lr * dW` a strided loop
    trained["W"][0] = W1.copy() if inputs is None else np.ascontiguousarray(W1[:, inputs])
    trained["b"][0] = params["b"][0].copy()
    optimizer = make_optimizer(vars(cfg.optimizer))
    return Model(cfg, params, trained, np.arange(W1.shape[0]), inputs, optimizer=optimizer)
