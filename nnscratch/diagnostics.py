"""What a run's internals say: dead ReLU units, symmetric units, predicted classes, outcome.

The learning log debugged its network by printing `A1 zero ratio` and `A1 mean`; these are those
probes, per hidden layer, plus the ones that test its explanations directly.
"""

from __future__ import annotations

import numpy as np

OUTCOMES = ("ok", "collapsed", "diverged", "failed")


def dead_units(A: np.ndarray) -> np.ndarray:
    """Which units (rows of A: (units, N)) output 0 or less on every sample: (units,) bool. A dead
    ReLU unit gets no gradient (ReLU'(z <= 0) = 0); no row at all is none dead."""
    return A.max(axis=1, initial=0) <= 0


def dead_fraction(A: np.ndarray) -> float:
    """Fraction of units (rows of A: (units, N)) that output 0 for every sample."""
    return float(dead_units(A).mean())


def zero_ratio(A: np.ndarray) -> float:
    """Fraction of all activations (units, N) that are exactly 0: the log's `A1 zero ratio`."""
    return float((A == 0).mean())


NAN = float("nan")  # one object: history rows holding it compare equal (==) between identical runs
SATURATED_GRAD = 0.01  # a tanh or sigmoid activation whose derivative is below this sits on a flat end


def saturated_fraction(A: np.ndarray, activation: str, skipped: int = 0) -> float:
    """Fraction of a tanh or sigmoid layer's activations (units, N) whose derivative (1 - A^2, or
    A(1 - A)) is below SATURATED_GRAD; `skipped` more units output 0 (counted unsaturated). NaN for
    ReLU and leaky ReLU, which have no flat end that a unit can sit on but 0 (see dead_fraction)."""
    if activation == "tanh":
        grad = 1 - A * A
    elif activation == "sigmoid":
        grad = A * (1 - A)
    else:
        return NAN
    return float(np.count_nonzero(grad < SATURATED_GRAD) / ((A.shape[0] + skipped) * A.shape[1]))


RANK_TOL = 0.01  # singular values below this share of the largest count as copies, not directions


def effective_rank(W: np.ndarray) -> float:
    """Number of singular values of a layer's incoming weights W (units, inputs) at least RANK_TOL of
    the largest (0 for W = 0; NaN if W is not finite): how many units are not scaled copies of the
    others. Zero weights with random biases keep the units distinct (distinct_units) but their weight
    rows proportional."""
    if not np.isfinite(W).all():
        return NAN
    s = np.linalg.svd(W.astype(np.float64, copy=False), compute_uv=False)
    return float((s >= RANK_TOL * s[0]).sum()) if s.size and s[0] > 0 else 0.0


def distinct_units(W: np.ndarray, b: np.ndarray) -> int:
    """Number of units whose incoming weights and bias (a row of [W | b]) differ from every other's.

    Zero init makes every row equal, so the layer acts as one unit: the log's "784 -> 1 -> 10".
    Rows compare by value (+ 0 turns -0.0 into 0.0), as bytes: np.unique(axis=0) costs milliseconds.
    """
    return len({row.tobytes() for row in np.hstack([W, b]) + 0})


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Share of predicted classes pred (N,) equal to the labels y (N,)."""
    return float((pred == y).mean())


def majority_rate(y: np.ndarray) -> float:
    """Accuracy of always predicting the most common class of the labels y (N,)."""
    return float(np.bincount(y).max() / len(y))


def outcome(pred: np.ndarray, y: np.ndarray, diverged: bool, margin: float) -> str:
    """'diverged' (non-finite loss or parameters), 'collapsed' (at most 2 distinct predicted
    classes, or accuracy at most the majority-class rate + margin), else 'ok'."""
    if diverged:
        return "diverged"
    if len(np.unique(pred)) <= 2 or accuracy(pred, y) <= majority_rate(y) + margin:
        return "collapsed"
    return "ok"
