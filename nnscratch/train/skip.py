"""Dead work, skipped exactly: inputs that are 0 on every training sample, and first-layer ReLU units
that are dead on the whole training set (see nnscratch.train.stack's module doc for why both are exact).
"""

from __future__ import annotations

import numpy as np

from nnscratch.network import Activation, Params


def used_inputs(X: np.ndarray) -> np.ndarray | None:
    """Indices of the inputs (rows of X: (n_inputs, N)) that are nonzero on some sample; None if all are."""
    used = X.any(axis=1)
    return None if used.all() else np.flatnonzero(used)


def can_skip(act: Activation, optimizers: list) -> bool:
    """Whether a dead unit stays dead: only a ReLU unit can have zero gradient on every sample, and
    only a stateless update leaves it there (momentum or Adam still move a unit that has just died;
    nnscratch.run.plan stacks like with like)."""
    return act.can_die and all(getattr(o, "stateless", True) for o in optimizers)


def fixed_test_share(params: Params, gone: np.ndarray, X_test: np.ndarray, act: Activation) -> np.ndarray:
    """What first-layer units `gone` (indices) add to the test set's second-layer input, for good:
    W2[:, gone] @ act(W1[gone] @ X_test + b1[gone]), (units of layer 2, N_test). X_test: (inputs, N_test)."""
    W, b = params["W"], params["b"]
    return W[1][:, gone] @ act(W[0][gone] @ X_test + b[0][gone])
