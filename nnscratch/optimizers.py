"""Update rules: the log's plain gradient descent, heavy-ball momentum and Adam.

Each keeps its state per parameter, in the parameter's dtype (float32 unless a config asks
otherwise), and updates the parameters in place from their gradients (same lists as `Params`):

    gd         W -= lr * dW
    momentum   v = beta * v + dW;                        W -= lr * v
    adam       m = b1 m + (1 - b1) dW;  v = b2 v + (1 - b2) dW**2
               W -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)     (Kingma & Ba, 2015)
"""

from __future__ import annotations

import numpy as np

from nnscratch.network import Params


class GD:
    """The log's step. It keeps no state: a unit whose gradient is zero never moves again."""

    stateless = True

    def step(self, params: Params, grads: Params, lr: np.floating) -> None:
        """W -= lr * dW for every parameter; the gradients are left as they were."""
        for group in ("W", "b"):
            for p, g in zip(params[group], grads[group]):
                p -= lr * g


class Momentum:
    """Heavy ball: the velocity keeps moving a parameter after its gradient has gone to zero."""

    stateless = False

    def __init__(self, beta: float = 0.9):
        self.beta, self.v = beta, None

    def step(self, params: Params, grads: Params, lr: np.floating) -> None:
        if self.v is None:
            self.v = {group: [np.zeros_like(p) for p in ps] for group, ps in params.items()}
        beta = lr.dtype.type(self.beta)
        for group in ("W", "b"):
            for p, g, v in zip(params[group], grads[group], self.v[group]):
                v *= beta
                v += g
                p -= lr * v


class Adam:
    """Adam with bias correction; its first and second moments are per parameter entry."""

    stateless = False

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = self.v = None
        self.t = 0

    def step(self, params: Params, grads: Params, lr: np.floating) -> None:
        if self.m is None:
            self.m = {group: [np.zeros_like(p) for p in ps] for group, ps in params.items()}
            self.v = {group: [np.zeros_like(p) for p in ps] for group, ps in params.items()}
        self.t += 1
        dt = lr.dtype.type
        b1, b2 = dt(self.beta1), dt(self.beta2)
        # bias corrections folded into the step size, as in the paper's efficient form
        size = dt(lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t))
        eps = dt(self.eps * np.sqrt(1 - self.beta2**self.t))
        for group in ("W", "b"):
            for p, g, m, v in zip(params[group], grads[group], self.m[group], self.v[group]):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                p -= size * m / (np.sqrt(v) + eps)


OPTIMIZERS = {"gd": GD, "momentum": Momentum, "adam": Adam}  # name -> update rule, its settings as keywords


def make_optimizer(cfg: dict) -> GD | Momentum | Adam:
    """The update rule of a run config's `optimizer` block, e.g. {"name": "adam", "beta1": 0.9}."""
    settings = {k: float(v) for k, v in cfg.items() if k != "name"}
    return OPTIMIZERS[cfg.get("name", "gd")](**settings)
