"""A user's gradient against central finite differences, and what the difference looks like.

The finite differences are of the reference loss (the tutorial's network written with the harness's
own functions: nnscratch.network), in float64, at the same point the user's backward_prop is given, so
that a wrong gradient is told apart from a wrong forward pass. Each mismatch is read for the bugs a
from-scratch author makes: a transposed array, one number where one per unit is due (the tutorial's
`np.sum(dZ)`), a constant factor (a missing, doubled or wrong `1/m`, a flipped sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOLERANCE = 1e-4  # relative error above which a gradient is wrong (float64 differences reach ~1e-8)
EPS = 1e-6  # the finite-difference step
FIXES = {
    "dW1": "dW1 = 1 / m * dZ1.dot(X.T)",
    "db1": "db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)",
    "dW2": "dW2 = 1 / m * dZ2.dot(A1.T)",
    "db2": "db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)",
}


@dataclass(frozen=True)
class Mismatch:
    """How a returned gradient differs from the finite differences: what, the numbers, the fix."""

    what: str
    evidence: str
    fix: str


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite or unrelated ones."""
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def numeric_gradient(loss: Callable[[], float], P: np.ndarray, entries: np.ndarray | None = None) -> np.ndarray:
    """Central differences of loss() in the entries of P (perturbed in place, then restored): an array
    of P's shape, NaN where `entries` (flat indices) leaves an entry out (None: every entry)."""
    grad = np.full(P.shape, np.nan)
    flat, out = P.reshape(-1), grad.reshape(-1)
    for k in range(P.size) if entries is None else entries:
        kept = flat[k]
        flat[k] = kept + EPS
        up = loss()
        flat[k] = kept - EPS
        down = loss()
        flat[k] = kept
        out[k] = (up - down) / (2 * EPS)
    return grad


def compare(name: str, mine, numeric: np.ndarray, batch: int, unit: str = "unit") -> Mismatch | None:
    """None if `mine` (the user's gradient `name`) equals the finite differences `numeric` (NaN entries
    not compared) within TOLERANCE, else what the difference looks like. `batch`: samples in the batch."""
    mine = np.asarray(mine, dtype=np.float64)
    known = ~np.isnan(numeric)
    fix = FIXES.get(name, "")
    if mine.shape != numeric.shape:
        return shape_mismatch(name, mine, numeric, known, fix, unit)
    u, n = mine[known], numeric[known]
    error = relative_error(u, n)
    if error < TOLERANCE:
        return None
    if mine.size > 1 and np.ptp(mine) == 0 and np.ptp(n) > 0:
        return Mismatch(
            f"the same number for every {unit}: it sums over {unit}s as well as samples",
            f"{mine.flat[0]:.4g} everywhere, where the gradient ranges {n.min():.3g} to {n.max():.3g}",
            fix,
        )
    ratio = float(u @ n / (n @ n)) if n @ n > 0 else 0.0
    if ratio and relative_error(u, ratio * n) < TOLERANCE:
        return factor_mismatch(ratio, batch, fix)
    worst = np.unravel_index(np.nanargmax(np.where(known, np.abs(mine - numeric), np.nan)), mine.shape)
    return Mismatch(
        "disagrees with the finite-difference gradient",
        f"relative error {error:.2g}; largest at {tuple(int(i) for i in worst)}: "
        f"{mine[worst]:.4g} vs {numeric[worst]:.4g}",
        f"compare your lines for {name} and what feeds them with {fix}" if fix else "",
    )


def shape_mismatch(name: str, mine: np.ndarray, numeric: np.ndarray, known, fix: str, unit: str) -> Mismatch:
    expected = numeric.shape
    if mine.shape == expected[::-1] and relative_error(mine.T[known], numeric[known]) < TOLERANCE:
        return Mismatch(f"is transposed: {mine.shape} where {expected} is expected", "its transpose is right", fix)
    if mine.size == 1:
        total = float(np.nansum(numeric)) if known.all() else float("nan")
        summed = np.isfinite(total) and abs(mine.item() - total) <= 1e-3 * (np.abs(numeric).sum() + 1e-12)
        zero = summed and unit == "class"  # each column of A2 - Y sums to 0: such a b2 never moves
        return Mismatch(
            f"is one number where one per {unit} ({expected[0]}) is due"
            + (f": it sums over {unit}es as well as samples" if summed and zero else "")
            + (f": it sums over {unit}s as well as samples" if summed and not zero else ""),
            f"{mine.item():.4g}"
            + (f" = the sum of the right gradient over every {unit}" if summed else "")
            + (", always 0 here (each column of A2 - Y sums to 0), so this bias never moves" if zero else "")
            + f"; the right one ranges {np.nanmin(numeric):.3g} to {np.nanmax(numeric):.3g}",
            fix,
        )
    if mine.shape == expected[:1]:
        return Mismatch(
            f"has shape {mine.shape} where {expected} is expected: `b - alpha * {name}` then broadcasts to "
            f"({expected[0]}, {expected[0]})",
            "keep the column axis",
            fix or "np.sum(..., axis=1, keepdims=True)",
        )
    return Mismatch(f"has shape {mine.shape} where {expected} is expected", "shapes differ", fix)


def factor_mismatch(ratio: float, batch: int, fix: str) -> Mismatch:
    """A gradient that is `ratio` times the right one: which `1/m` went wrong."""
    evidence = f"{ratio:.6g} times the finite-difference gradient, entry for entry"
    if abs(ratio + 1) < 1e-3:
        return Mismatch("has the wrong sign: it is the gradient of -loss", evidence, "dZ2 = A2 - one_hot(Y)")
    if abs(ratio - batch) < 1e-3 * batch:
        return Mismatch(f"is not divided by m: {batch} times too large on a batch of {batch}", evidence, fix)
    if abs(ratio * batch - 1) < 1e-3:
        return Mismatch(f"is divided by m twice: {batch} times too small on a batch of {batch}", evidence, fix)
    m_used = batch / ratio
    if ratio > 0 and abs(m_used - round(m_used)) < 1e-3 * m_used and round(m_used) > 1:
        return Mismatch(
            f"divides by m = {round(m_used)} where the batch has {batch} samples: `m` is not the batch size "
            "(a global set when the data was loaded?)",
            evidence,
            "m = Y.size inside backward_prop",
        )
    return Mismatch(f"is off by a factor {ratio:.4g}", evidence, fix)
