"""One full-batch iteration of the learning log's network, written out: read this first.

The log trains 784 -> 10 -> 10 (any hidden width here) by full-batch gradient descent, one column per
sample. One iteration is forward, loss, backward, update:

    forward    Z1 = W1 @ X + b1          (hidden, N)     A1 = relu(Z1)
               Z2 = W2 @ A1 + b2         (classes, N)    A2 = softmax(Z2), kept as log A2
    loss       L = mean over samples of -log A2[y]
    backward   dZ2 = (A2 - Y) / N        (classes, N)    Y: one-hot labels
               dW2 = dZ2 @ A1.T          db2 = sum of dZ2 over samples
               dZ1 = (W2.T @ dZ2) * relu'(Z1)            relu'(z) = 1 if z > 0 else 0
               dW1 = dZ1 @ X.T           db1 = sum of dZ1 over samples
    update     W -= lr * dW, b -= lr * db, for both layers

The trainer (nnscratch.train.stack) computes exactly this, optimised beside it, not around it: it
stacks the W1 of runs that share X so that one product serves them all, leaves out the inputs that
are 0 on every training sample and the units that died, and records diagnostics along the way. With
both skips off, a run trained alone gives these numbers bit for bit (tests/test_iteration.py); the
skips change which zeros the products add, so a run's last float32 bits may move with them.
"""

from __future__ import annotations

import numpy as np

from nnscratch.network import Params, cross_entropy, log_softmax


def iteration(params: Params, X: np.ndarray, y: np.ndarray, Y: np.ndarray, lr: np.floating) -> float:
    """One gradient-descent step of a one-hidden-layer ReLU network on the whole of X (inputs, N), labels
    y (N,) and one-hot Y (classes, N): updates params {"W": [W1, W2], "b": [b1, b2]} in place and returns
    the loss before the step. Everything stays in the parameters' dtype (float32 by default)."""
    (W1, W2), (b1, b2) = params["W"], params["b"]
    n = Y.dtype.type(X.shape[1])

    # forward
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)
    Z2 = W2 @ A1 + b2
    log_A2 = log_softmax(Z2)
    loss = cross_entropy(log_A2, y)

    # backward
    dZ2 = (np.exp(log_A2) - Y) / n
    dW2 = dZ2 @ A1.T
    db2 = dZ2.sum(axis=1, keepdims=True)
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    dW1 = dZ1 @ X.T
    db1 = dZ1.sum(axis=1, keepdims=True)

    # update
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return loss


def predicted_classes(params: Params, X: np.ndarray) -> np.ndarray:
    """The predicted class of each column of X (inputs, N): (N,) int."""
    (W1, W2), (b1, b2) = params["W"], params["b"]
    return (W2 @ np.maximum(W1 @ X + b1, 0) + b2).argmax(axis=0)
