"""Is it my code or my config? A user's network checked in seconds, each function on its own:

    contract      every function exists and returns arrays of the expected shapes; forward_prop's
                  Z1, A1, Z2, A2 are what the tutorial's equations give from its own previous arrays;
                  A2's columns are probabilities, finite for unscaled pixels too; nothing changed in place
    gradients     backward_prop's dW1, db1, dW2, db2 against central finite differences (float64)
    update        update_params moves each parameter by -alpha times its gradient
    training      the loss falls on a small batch; 64 images can be learnt to 100 %; the file's own
                  gradient_descent runs every iteration it is asked for, and says what it does with uint8
    differential  the user's first steps against the built-in network's from the same start

Each function is given the reference's inputs (forward arrays computed with nnscratch.network, not the
user's), so a finding names the function and the array where the bug is, not where it shows. Each
finding is one line: where, what, the evidence and the fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch.data import Prepared
from nnscratch.network import (
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
from nnscratch.networks.gradients import TOLERANCE, compare, numeric_gradient, relative_error
from nnscratch.networks.loading import Notebook, UserCodeError

HIDDEN = 12  # the checks' hidden size: unlike the 10 classes and the batch, so that a transpose shows
BATCH = 24  # images per check batch
FD_ENTRIES = 400  # entries of W1 differenced (all of b1, W2, b2 are)
OVERFIT_IMAGES, OVERFIT_HIDDEN, OVERFIT_LR, OVERFIT_ITERATIONS = 64, 32, 0.5, 500
STEPS = 5  # differential: steps compared with the built-in network
NAMES = ("W1", "b1", "W2", "b2")


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the user's code: which check found it, where (function -> array), what,
    the evidence (numbers) and the fix."""

    check: str
    where: str
    what: str
    evidence: str = ""
    fix: str = ""

    def line(self) -> str:
        text = f"{self.check}: {self.where}: {self.what}"
        text += f" ({self.evidence})" if self.evidence else ""
        return text + (f"; fix: {self.fix}" if self.fix else "")


@dataclass
class CheckReport:
    """What the check found, what it saw pass (one line per check), and how long it took."""

    findings: list[Finding] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"ok   {p}" for p in self.passed] + [f"note {n}" for n in self.notes]
        return out + [f"FOUND {f.line()}" for f in self.findings]


# ---------------------------------------------------------------- the reference network


class Reference:
    """The tutorial's 784 -> hidden -> 10 network in the harness's own functions, float64, on one batch
    X (inputs, m) with labels y (m,): its forward arrays and its loss as a function of the parameters."""

    def __init__(self, params: list[np.ndarray], X: np.ndarray, y: np.ndarray, n_classes: int, act: Activation):
        self.params, self.X, self.y, self.act = params, X, y, act
        self.Y = one_hot(y, n_classes, "float64")

    def as_dict(self) -> dict:
        W1, b1, W2, b2 = self.params
        return {"W": [W1, W2], "b": [b1, b2]}

    def forward(self) -> tuple[np.ndarray, ...]:
        """Z1, A1, Z2, A2 as the tutorial's equations give them."""
        Zs, As = forward(self.as_dict(), self.X, act=self.act)
        return Zs[0], As[1], Zs[1], np.exp(log_softmax(Zs[1]))

    def loss(self) -> float:
        Zs, _ = forward(self.as_dict(), self.X, act=self.act)
        return cross_entropy(log_softmax(Zs[1]), self.y)

    def gradients(self) -> list[np.ndarray]:
        p = self.as_dict()
        g = backward(p, forward_cache(p, self.X, self.act), self.Y, act=self.act)
        return [g["W"][0], g["b"][0], g["W"][1], g["b"][1]]


def reference_params(n_inputs: int, n_classes: int, hidden: int, seed: int) -> list[np.ndarray]:
    """Float64 parameters for the checks: He-scaled weights and small random biases (nonzero, so that no
    pre-activation sits exactly at ReLU's kink and a bias bug shows)."""
    p = init_params([n_inputs, hidden, n_classes], [Init("he")] * 2, [Init("normal", 0.1)] * 2, seed, "float64")
    return [p["W"][0], p["b"][0], p["W"][1], p["b"][1]]


def batch(data: Prepared, n: int, without: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first n training images (float64) and labels, or the first n whose label is not `without`."""
    idx = np.flatnonzero(data.y_train != without)[:n] if without is not None else np.arange(n)
    return data.X_train[:, idx].astype(np.float64), data.y_train[idx]


# ---------------------------------------------------------------- the checks


def check_network(nb: Notebook, data: Prepared, act: Activation, seed: int = 0) -> CheckReport:
    """Run every check on the user's functions `nb`, with the harness's data (its first images) and
    the hidden activation `act` the user's network is meant to compute."""
    report, t0 = CheckReport(), time.perf_counter()
    X, y = batch(data, BATCH)
    ref = Reference(reference_params(data.n_inputs, data.n_classes, HIDDEN, seed), X, y, data.n_classes, act)
    for check in (check_init, check_forward, check_backward, check_update, check_training, check_differential):
        try:
            # one BLAS thread: these products are small, and threads only wait for each other on a busy machine
            with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
                check(nb, ref, data, report)
        except UserCodeError as err:
            where = err.function or "your code"
            report.findings.append(
                Finding(check.__name__.removeprefix("check_"), where, str(err).removeprefix(where + " "))
            )
    report.seconds = time.perf_counter() - t0
    return report


def shape_findings(function: str, got, expected: list[tuple], names: tuple[str, ...]) -> list[Finding]:
    """A finding per returned array of the wrong shape (or a wrong number of arrays)."""
    if not isinstance(got, list | tuple) or len(got) != len(expected):
        n = len(got) if isinstance(got, list | tuple) else type(got).__name__
        return [Finding("contract", function, f"returned {n} values, expected {len(expected)}: {', '.join(names)}")]
    return [
        Finding("contract", f"{function} -> {name}", f"has shape {np.shape(a)}, expected {shape}")
        for name, a, shape in zip(names, got, expected)
        if np.shape(a) != shape
    ]


def check_init(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """init_params: four arrays whose shapes agree with each other and with the data; no two the same array."""
    if not nb.has("init"):
        report.notes.append(f"{nb.names['init']}: not in the file (only weights=user needs it)")
        return
    got = nb.call("init")
    if not isinstance(got, list | tuple) or len(got) != 4:
        report.findings.append(Finding("contract", nb.names["init"], "did not return four arrays W1, b1, W2, b2"))
        return
    hidden = np.shape(got[0])[0] if np.ndim(got[0]) == 2 else 10
    expected = [(hidden, data.n_inputs), (hidden, 1), (data.n_classes, hidden), (data.n_classes, 1)]
    found = shape_findings(nb.names["init"], got, expected, NAMES)
    for f in found:
        report.findings.append(Finding(f.check, f.where, f.what + f" (inputs {data.n_inputs}, hidden {hidden})"))
    for i in range(4):
        for j in range(i + 1, 4):
            if np.shares_memory(got[i], got[j]):
                report.findings.append(
                    Finding(
                        "contract",
                        f"{nb.names['init']} -> {NAMES[i]}, {NAMES[j]}",
                        "are the same array: an update of one in place changes the other",
                        fix=f"give each its own array ({NAMES[j]} = np.zeros(...) on a line of its own)",
                    )
                )
    if not found:
        report.passed.append(f"{nb.names['init']}: W1 {expected[0]}, b1, W2, b2 of matching shapes")


def check_forward(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """forward_prop's arrays, each against the tutorial's equation applied to the user's previous array."""
    name, (W1, b1, W2, b2), X = nb.names["forward"], ref.params, ref.X
    kept = X.copy()
    got = nb.call("forward", W1.copy(), b1.copy(), W2.copy(), b2.copy(), X)
    h, m, c = W1.shape[0], X.shape[1], W2.shape[0]
    found = shape_findings(name, got, [(h, m), (h, m), (c, m), (c, m)], ("Z1", "A1", "Z2", "A2"))
    if not np.array_equal(X, kept):
        found.append(
            Finding("contract", f"{name} -> X", "changes its input X in place", fix="X = X / 255 (a new array)")
        )
    if found:
        report.findings += found
        return
    Z1, A1, Z2, A2 = (np.asarray(a, np.float64) for a in got)
    expected = [
        Expected("Z1", Z1, W1 @ X + b1, "W1.dot(X) + b1"),
        Expected("A1", A1, ref.act(Z1), f"{ref.act.name}(Z1)"),
        Expected("Z2", Z2, W2 @ A1 + b2, "W2.dot(A1) + b2"),
        Expected("A2", A2, softmax(Z2), "softmax(Z2) over each column"),
    ]
    for e in expected:
        if e.error > TOLERANCE:
            report.findings.append(forward_finding(name, e))
            return
    report.findings += softmax_overflow(nb, ref)
    if not any(f.where.startswith(name) for f in report.findings):
        report.passed.append(f"{name}: Z1, A1, Z2, A2 as the equations give them; A2's columns are probabilities")


def softmax(Z: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(Z))


@dataclass(frozen=True)
class Expected:
    """One forward array as the user's function gave it (`mine`) and as its equation (`formula`) gives
    it from the user's previous array (`right`), both float64 of the same shape."""

    array: str
    mine: np.ndarray
    right: np.ndarray
    formula: str

    @property
    def error(self) -> float:
        return relative_error(self.mine, self.right)


def forward_finding(function: str, e: Expected) -> Finding:
    """What is wrong with one forward array of `function`: for A2, whether it is a softmax over the wrong axis."""
    where, array, mine, formula, error = f"{function} -> {e.array}", e.array, e.mine, e.formula, e.error
    if array == "A2":
        cols, rows = mine.sum(axis=0), mine.sum(axis=1)
        if np.allclose(rows, 1) and not np.allclose(cols, 1):
            return Finding(
                "contract",
                where,
                "is a softmax over the samples (axis 1), not over the classes (axis 0)",
                f"its rows sum to 1, its columns to {cols.min():.3g}..{cols.max():.3g}",
                "np.exp(Z) / np.sum(np.exp(Z), axis=0, keepdims=True)",
            )
        return Finding(
            "contract",
            where,
            "is not a softmax of Z2 over each column",
            f"columns sum to {cols.min():.3g}..{cols.max():.3g}; relative error {error:.2g}",
            "A2 = exp(Z2 - max) / sum over axis 0",
        )
    return Finding("contract", where, f"is not {formula}", f"relative error {error:.2g}", f"{array} = {formula}")


def softmax_overflow(nb: Notebook, ref: Reference) -> list[Finding]:
    """forward_prop on unscaled pixels (0-255) in float32, as the harness runs it: A2 must stay finite
    wherever Z2 is (exp overflows float32 above 88)."""
    X = (ref.X * 255.0).astype(np.float32)
    params = [p.astype(np.float32) for p in ref.params]
    with np.errstate(all="ignore"):
        Z1, A1, Z2, A2 = (np.asarray(a) for a in nb.call("forward", *params, X))
    if np.isfinite(Z2).all() and not np.isfinite(A2).all():
        return [
            Finding(
                "contract",
                f"{nb.names['forward']} -> A2",
                "overflows for unscaled pixels (0-255): exp(Z2) is inf, A2 NaN",
                f"Z2 up to {np.abs(Z2).max():.3g}; {int((~np.isfinite(A2)).sum())} of {A2.size} entries not finite",
                "subtract each column's max before exp: np.exp(Z - Z.max(axis=0, keepdims=True))",
            )
        ]
    return []


def check_backward(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """backward_prop's gradients, given the reference's forward arrays, against finite differences."""
    name, (W1, _, W2, _) = nb.names["backward"], ref.params
    arrays = ref.forward()
    kept = [a.copy() for a in arrays]
    got = nb.call("backward", *[a.copy() for a in arrays], W1.copy(), W2.copy(), ref.X, ref.y)
    if not isinstance(got, list | tuple) or len(got) != 4:
        report.findings += shape_findings(name, got, [p.shape for p in ref.params], ("dW1", "db1", "dW2", "db2"))
        return
    rng = np.random.default_rng(0)
    lit = np.flatnonzero(np.repeat(ref.X.any(axis=1)[None, :], W1.shape[0], axis=0).reshape(-1))
    entries = [rng.choice(lit, min(FD_ENTRIES, len(lit)), replace=False), None, None, None]
    bad = []
    for g, P, n, entry in zip(got, ref.params, ("dW1", "db1", "dW2", "db2"), entries):
        numeric = numeric_gradient(ref.loss, P, entry)
        unit = "unit" if n.endswith("1") else "class"
        mismatch = compare(n, g, numeric, ref.X.shape[1], unit)
        if mismatch:
            bad.append(n)
            report.findings.append(
                Finding("gradients", f"{name} -> {n}", mismatch.what, mismatch.evidence, mismatch.fix)
            )
    if any(not np.array_equal(a, k) for a, k in zip(arrays, kept)):
        report.notes.append(f"{name} changes its inputs Z1, A1, Z2 or A2 in place")
    missing_class(nb, ref, data, report)
    if not bad:
        report.passed.append(
            f"{name}: dW1, db1, dW2, db2 equal central finite differences (float64, relative error < {TOLERANCE:g})"
        )
    relu_at_zero(nb, ref, report)


def missing_class(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """backward_prop on a batch without the last class: a one-hot sized from Y.max() + 1 breaks there."""
    last = data.n_classes - 1
    X, y = batch(data, ref.X.shape[1], without=last)
    other = Reference(ref.params, X, y, data.n_classes, ref.act)
    W1, _, W2, _ = ref.params
    try:
        got = nb.call("backward", *other.forward(), W1.copy(), W2.copy(), X, y)
        pairs = [(np.asarray(g), r) for g, r in zip(got, other.gradients()) if np.shape(g) == r.shape]
        error = max((relative_error(g, r) for g, r in pairs), default=0.0)  # wrong shapes: found above
    except UserCodeError as err:
        error, why = 1.0, str(err)
    else:
        why = f"relative error {error:.2g}"
    if error > TOLERANCE and not any(f.check == "gradients" for f in report.findings):
        report.findings.append(
            Finding(
                "gradients",
                f"{nb.names['backward']} -> one-hot Y",
                f"fails on a batch without class {last}: the one-hot has Y.max() + 1 rows, not {data.n_classes}",
                why,
                f"one_hot_Y = np.zeros(({data.n_classes}, Y.size))",
            )
        )


def relu_at_zero(nb: Notebook, ref: Reference, report: CheckReport) -> None:
    """Which value the user's ReLU derivative takes at exactly 0 (a note, not a finding: both are valid)."""
    if ref.act.name != "relu":
        return
    W1, b1, W2, b2 = ref.params
    zero = Reference([np.zeros_like(W1), np.zeros_like(b1), W2, b2], ref.X, ref.y, len(b2), ref.act)
    try:
        got = nb.call("backward", *zero.forward(), zero.params[0].copy(), W2.copy(), ref.X, ref.y)
    except UserCodeError:
        return
    if np.shape(got[0]) == W1.shape and np.abs(np.asarray(got[0])).max() > 0:
        report.notes.append(
            f"{nb.names['backward']}: ReLU'(0) = 1 here (`Z >= 0`; the tutorial's `Z > 0` gives 0). Not a bug: "
            "ReLU has no derivative at 0 and either value is a valid choice; it matters only where Z1 is exactly "
            "0, i.e. with W1 = 0 (weights=zeros, w1_zero), where your units learn and the tutorial's do not"
        )


def check_update(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """update_params(P, G, alpha) against P - alpha * G, parameter by parameter."""
    name, alpha = nb.names["update"], 0.1
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(p.shape) for p in ref.params]
    got = nb.call("update", *[p.copy() for p in ref.params], *[g.copy() for g in grads], alpha)
    found = shape_findings(name, got, [p.shape for p in ref.params], NAMES)
    if found:
        report.findings += found
        return
    for n, new, P, G in zip(NAMES, got, ref.params, grads):
        new = np.asarray(new, np.float64)
        if relative_error(new - P, -alpha * G) < TOLERANCE:
            continue
        if relative_error(new - P, alpha * G) < TOLERANCE:
            what, fix = "moves up the gradient (P + alpha * dP)", f"{n} = {n} - alpha * d{n}"
        elif np.array_equal(new, P):
            what, fix = "is returned unchanged", f"{n} = {n} - alpha * d{n}"
        else:
            ratio = float(np.sum((new - P) * G) / np.sum(G * G) / -alpha)
            what, fix = f"moves by {ratio:.3g} times -alpha * d{n}", f"{n} = {n} - alpha * d{n}"
        report.findings.append(Finding("update", f"{name} -> {n}", what, "given random gradients, alpha 0.1", fix))
    if not any(f.check == "update" for f in report.findings):
        report.passed.append(f"{name}: each parameter moves by -alpha times its gradient")


@dataclass(frozen=True)
class Schedule:
    """A short training of the checks: learning rate, iterations, and, if given, when to stop early
    (until(train accuracy) holds)."""

    lr: float
    iterations: int
    until: Callable[[float], bool] | None = None


def train_with(
    nb: Notebook, params: list, X: np.ndarray, y: np.ndarray, schedule: Schedule
) -> tuple[list[float], list[float]]:
    """The harness's loop with the user's functions from params [W1, b1, W2, b2] on X (inputs, m) and
    labels y (m,): (losses, train accuracies), one per iteration and one before the first."""
    losses, accs, until, lr = [], [], schedule.until, schedule.lr
    for _ in range(schedule.iterations + 1):
        Z1, A1, Z2, A2 = nb.call("forward", *params, X)
        A2 = np.asarray(A2, np.float64)
        losses.append(float(-np.log(np.maximum(A2[y, np.arange(len(y))], 1e-300)).mean()))
        accs.append(float((A2.argmax(axis=0) == y).mean()))
        if until and until(accs[-1]) or not np.isfinite(losses[-1]):
            break
        grads = nb.call("backward", Z1, A1, Z2, A2, params[0], params[2], X, y)
        params = list(nb.call("update", *params, *grads, lr))
    return losses, accs


def check_training(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """The loss falls; 64 images are learnt to 100 %; the file's own loop runs all its iterations."""
    with np.errstate(all="ignore"):
        losses, _ = train_with(nb, [p.copy() for p in ref.params], ref.X, ref.y, Schedule(0.1, 20))
        X, y = batch(data, OVERFIT_IMAGES)
        params = reference_params(data.n_inputs, data.n_classes, OVERFIT_HIDDEN, 1)
        _, accs = train_with(nb, params, X, y, Schedule(OVERFIT_LR, OVERFIT_ITERATIONS, until=lambda a: a == 1.0))
    if not losses[-1] < losses[0]:
        report.findings.append(
            Finding(
                "training", "the harness's loop with your functions", "the loss does not fall",
                f"{losses[0]:.4g} at the start, {losses[-1]:.4g} after {len(losses) - 1} iterations at lr 0.1",
            )
        )  # fmt: skip
    if max(accs) < 1.0:
        report.findings.append(
            Finding(
                "training", "the harness's loop with your functions", f"cannot learn {OVERFIT_IMAGES} images by heart",
                f"best train accuracy {max(accs):.3f} in {len(accs) - 1} iterations (hidden {OVERFIT_HIDDEN}, "
                f"lr {OVERFIT_LR}); a correct network reaches 1.0",
            )
        )  # fmt: skip
    else:
        report.passed.append(
            f"training: loss {losses[0]:.3f} -> {losses[-1]:.3f} in 20 iterations; {OVERFIT_IMAGES} images learnt "
            f"to 100 % in {len(accs) - 1} iterations"
        )
    own_loop(nb, data, report)


def own_loop(nb: Notebook, data: Prepared, report: CheckReport) -> None:
    """The file's gradient_descent(X, Y, alpha, iterations): runs every iteration (counted by the calls of
    update_params it makes) and returns trained parameters; then given uint8 pixels, refuses or converts."""
    if not nb.has("train"):
        return
    name, asked = nb.names["train"], 4
    X, y = batch(data, OVERFIT_IMAGES)
    calls = CountedCalls(nb, "update")
    try:
        got = nb.call("train", X.copy(), y, 0.1, asked)
    finally:
        calls.restore()
    if calls.n < asked:
        report.findings.append(
            Finding(
                "training", name, f"returned after {calls.n} of {asked} iterations",
                f"{nb.names['update']} was called {calls.n} times", "move `return` out of the for loop",
            )
        )  # fmt: skip
    elif not isinstance(got, list | tuple) or len(got) != 4:
        report.findings.append(Finding("training", name, "does not return the trained W1, b1, W2, b2"))
    else:
        report.passed.append(f"{name}: ran {asked} of {asked} iterations and returned W1, b1, W2, b2")
    uint8 = (data.X_train[:, :OVERFIT_IMAGES] * 255).round().astype(np.uint8) if data.X_train.max() <= 1 else None
    if uint8 is None:
        return
    try:
        nb.call("train", uint8, y, 0.1, 2)
    except UserCodeError as err:
        if "UFuncTypeError" in str(err) or "Cannot cast ufunc" in str(err):
            report.findings.append(
                Finding(
                    "training", f"{name} -> X", "divides uint8 pixels in place, which NumPy refuses", str(err),
                    "convert first: X = X.astype('float32') / 255.0",
                )
            )  # fmt: skip
        else:
            report.notes.append(f"{name} refuses uint8 pixels ({err})")
    else:
        report.notes.append(f"{name} accepts uint8 pixels (0-255) and runs; the harness gives it float32")


class CountedCalls:
    """Count the calls of one of the user's functions made through its module (as the file's own loop
    makes them), until restore()."""

    def __init__(self, nb: Notebook, role: str):
        self.module, self.name, self.n = nb.module, nb.names[role], 0
        self.original = getattr(self.module, self.name)

        def counted(*args, **kwargs):
            self.n += 1
            return self.original(*args, **kwargs)

        setattr(self.module, self.name, counted)

    def restore(self) -> None:
        setattr(self.module, self.name, self.original)


def check_differential(nb: Notebook, ref: Reference, data: Prepared, report: CheckReport) -> None:
    """The user's first STEPS steps against the built-in network's from the same start: the first step
    and parameter where they part."""
    lr = 0.1
    mine, theirs = [p.copy() for p in ref.params], [p.copy() for p in ref.params]
    for step in range(1, STEPS + 1):
        Z1, A1, Z2, A2 = nb.call("forward", *mine, ref.X)
        mine = [
            np.asarray(a, np.float64)
            for a in nb.call("update", *mine, *nb.call("backward", Z1, A1, Z2, A2, mine[0], mine[2], ref.X, ref.y), lr)
        ]
        builtin = Reference(theirs, ref.X, ref.y, data.n_classes, ref.act)
        theirs = [P - lr * G for P, G in zip(theirs, builtin.gradients())]
        for n, a, b in zip(NAMES, mine, theirs):
            if np.shape(a) != b.shape or relative_error(a, b) > TOLERANCE:
                error = relative_error(a, b) if np.shape(a) == b.shape else 1.0
                report.findings.append(
                    Finding(
                        "differential", n, f"parts from the built-in network's at step {step} of {STEPS}",
                        f"relative difference {error:.2g}, same start, same {ref.X.shape[1]} images, lr {lr}",
                    )
                )  # fmt: skip
                return
    report.passed.append(f"differential: the same parameters as the built-in network's over {STEPS} steps")
