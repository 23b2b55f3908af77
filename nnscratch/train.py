"""Gradient descent on MLPs that share their training data: a single run is a stack of one.

One iteration is the log's: forward on the batch, loss, backward, `W -= lr * dW`. Full-batch by
default (batch_size null); mini-batch SGD draws a fresh permutation of the training set each epoch.
Every `eval_every` epochs (full batch: iterations) and after the last, a pass over the whole
training set and the test set records the history's diagnostics.

Runs that train on the same X with the same schedule train together (`runner.tasks` groups them),
their first layers stacked row-wise, so that one large product reads the data once for them all:

    Z1_all = W1_all @ X + b1_all          (live hidden units of every model, N)
    dW1_all = dZ1_all @ X.T

Each model's rows are its own (a product computes each output row from its own row of W1 only), so
a model that diverges stops without touching its neighbours; the layers above the first are per
model. BLAS may still round a row differently with the product's shape, so a model's last bits
depend on its stack-mates (runner.tasks plans them without regard to the worker count). A stack
of one does exactly the single network's products.

Dead first-layer units are skipped (`train.skip_dead`). A ReLU unit whose pre-activation is <= 0
on every training sample gets zero gradient on its incoming weights and bias (ReLU'(z <= 0) = 0)
and on its outgoing weights (its activation is 0); plain gradient descent then leaves all of them,
and so its pre-activations on the fixed training set, exactly as they are: it is dead for good. Its
row leaves the stacked products, and its fixed contribution to the test set's second-layer input is
computed once. A model with no live unit left is a constant function of its input: the rest of its
run is one column weighted by the class frequencies, with no product over the 784 inputs.
Never skipped: units of deeper layers (their inputs keep changing, so they can revive), and units
of a mini-batch run found dead on one batch only (a batch is not the training set: only an
evaluation pass over the whole set can tell).

Dead inputs are skipped too (same switch). A pixel that is 0 on every training sample adds nothing
to Z1 and its weights get zero gradient (dW1 = dZ1 @ X.T), under any activation and update rule, so
they never move: the two large products use the other inputs only (MNIST: 717 of 784 pixels on the
60,000 images, 663 on the first 5,000). The test set, where such a pixel may be lit, still goes
through every weight.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch import diagnostics as dg
from nnscratch.config import N_CLASSES, N_INPUTS, layer_inits
from nnscratch.data import Prepared
from nnscratch.network import Activation, Params, backward, cross_entropy, forward, init_params, log_softmax, one_hot
from nnscratch.optimizers import make_optimizer

REPORT_EVERY = 1.0  # seconds between a stack's progress reports (train_stack's `report`)
Done = tuple[float, float, float]  # a run's progress: planned and actual work done, share of units alive


@dataclass
class RunResult:
    """history: one dict per evaluation; metrics: the final numbers of the run."""

    history: list[dict]
    metrics: dict


def build_params(cfg: dict) -> Params:
    """Initial parameters for a run config."""
    hidden = list(cfg["model"]["hidden"])
    n_layers = len(hidden) + 1
    return init_params(
        [N_INPUTS, *hidden, N_CLASSES],
        layer_inits(cfg["weights"], n_layers),
        layer_inits(cfg["biases"], n_layers),
        cfg["seed"],
        cfg["model"].get("dtype", "float32"),
    )


def all_finite(params: Params) -> bool:
    return all(np.isfinite(p).all() for group in params.values() for p in group)


def batches(n: int, batch_size: int | None, rng: np.random.Generator):
    """Yield index arrays forever: everything (full batch) or shuffled mini-batches, epoch by epoch."""
    while True:
        if batch_size is None or batch_size >= n:
            yield None
            continue
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def upper(params: Params) -> Params:
    """The layers above the first."""
    return {"W": params["W"][1:], "b": params["b"][1:]}


# ---------------------------------------------------------------- one model inside a stack


@dataclass
class Model:
    """One run of a stack.

    params: the whole network, as the records see it (dead units' rows and columns frozen, live
    ones copied in from `trained` at every evaluation). trained: what the iterations update: W1, b1
    as views of the model's rows of the stack (W1 with the used inputs' columns only), W2 with the
    live units' columns only, deeper layers shared with params. live: indices of the first-layer
    units still trained; inputs: of the inputs used (None: all).
    """

    cfg: dict
    params: Params
    trained: Params
    live: np.ndarray
    inputs: np.ndarray | None = None
    rows: slice = field(default_factory=lambda: slice(0, 0))
    test_extra: np.ndarray | None = None  # dead units' fixed share of the test set's Z2: (units of layer 2, N_test)
    history: list[dict] = field(default_factory=list)
    final: dict | None = None
    unit_passes: int = 0  # first-layer units computed, summed over passes: the work actually done
    passes: int = 0
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


def live_pass(
    model: Model, Z1: np.ndarray, A1: np.ndarray, y: np.ndarray, Y: np.ndarray, dZ1: np.ndarray, act: Activation
) -> Pass:
    """Forward and backward above the first layer; writes the model's dZ1 rows into dZ1 (a view)."""
    top = upper(model.trained)
    Zs, As = forward(top, A1, act=act)
    log_probs = log_softmax(Zs[-1])
    grads = backward(top, Zs, As, log_probs, Y, input_grad=True, act=act)
    np.multiply(grads.pop("dX")[0], act.grad(Z1, A1), out=dZ1)
    return Pass(cross_entropy(log_probs, y), grads, As, log_probs, Z1=Z1)


def constant_pass(model: Model, y: np.ndarray, act: Activation) -> Pass:
    """Every first-layer unit dead: each sample reaches layer 2 as the same zero vector, so the mean
    over samples of the softmax gradient is (p - class frequencies) of one column."""
    dt = model.trained["W"][0].dtype
    share = np.bincount(y, minlength=N_CLASSES) / len(y)
    freq = share.astype(dt)[:, None]
    top = upper(model.trained)
    Zs, As = forward(top, np.zeros((0, 1), dt), act=act)
    log_probs = log_softmax(Zs[-1])
    grads = backward(top, Zs, As, log_probs, freq, act=act)
    return Pass(float(-(freq * log_probs).sum()), grads, As, log_probs, share)


# ---------------------------------------------------------------- the stack


class Stack:
    """Models that train on the same data and schedule, first layers stacked (see the module doc).

    With `max_rows`, models are admitted in order while their live first-layer rows fit, and the
    next ones as others finish or lose units: the stacked products stay large (one read of X serves
    many rows) however many units die. Each model keeps its own iteration count, so when it joined
    changes none of its numbers beyond float32 rounding.
    """

    def __init__(
        self,
        cfgs: list[dict],
        data: Prepared,
        max_rows: int | None = None,
        report: Callable[[list[Done]], None] | None = None,
    ):
        tc = cfgs[0]["train"]
        self.data, self.tc, self.max_rows, self.report = data, tc, max_rows, report
        self.X, self.y = data.X_train, data.y_train
        skip_dead = bool(tc.get("skip_dead", True))
        inputs = used_inputs(self.X) if skip_dead else None
        if inputs is not None:
            self.X = self.X[inputs]
        self.models = [new_model(c, inputs) for c in cfgs]
        dt = self.models[0].params["W"][0].dtype
        self.lr = dt.type(tc["lr"])
        self.Y = one_hot(self.y, N_CLASSES, dt)
        self.full_batch = tc.get("batch_size") is None or tc["batch_size"] >= len(self.y)
        if not self.full_batch and len(cfgs) > 1:
            raise ValueError("mini-batch runs draw their own batches: they train alone, not stacked")
        self.act = Activation(**(cfgs[0].get("activation") or {"name": "relu"}))
        # only a ReLU unit can have zero gradient on every sample, and only a stateless update leaves it
        # there: momentum or Adam still move a unit that has just died (runner.tasks stacks like with like)
        stateless = all(getattr(m.optimizer, "stateless", True) for m in self.models)
        self.skip = skip_dead and self.act.can_die and stateless
        # evaluations every eval_every epochs: a full-batch iteration is an epoch, a mini-batch one a batch
        epoch = 1 if self.full_batch else len(self.y) // tc["batch_size"]
        self.eval_period = tc["eval_every"] * epoch
        # a samples-major copy: gathering a batch's rows is contiguous, its columns are not
        self.X_rows = None if self.full_batch else np.ascontiguousarray(self.X.T)
        self.next_batch = batches(len(self.y), tc.get("batch_size"), np.random.default_rng([cfgs[0]["seed"], 1]))
        widths = [m.width for m in self.models]
        units = max(max_rows or 0, *widths) if max_rows else sum(widths)
        # the full-batch (units, N) arrays are allocated once: fresh ones each iteration cost page faults
        self.buffers = [np.zeros((units, self.X.shape[1]), dt) for _ in range(3)]
        self.dW1 = np.empty((units, len(self.X)), dt)
        self.W1, self.b1 = np.zeros((0, len(self.X)), dt), np.zeros((0, 1), dt)

    def training(self) -> list[tuple[int, Model]]:
        return [(i, m) for i, m in enumerate(self.models) if m.admitted and m.final is None]

    def admit(self) -> bool:
        """Admit waiting models, in order, while their rows fit; whether any model is training."""
        rows, added = len(self.W1), False
        for m in (m for m in self.models if not m.admitted):
            if self.max_rows and rows and rows + m.width > self.max_rows:
                break
            m.admitted, rows, added = True, rows + m.width, True
        if added:
            self.restack()
        return bool(self.training())

    def restack(self) -> None:
        """Stack the live first-layer rows of every model still training; theirs become views of them."""
        models = [m for _, m in self.training()]
        dt = self.models[0].params["W"][0].dtype
        self.W1 = np.vstack([m.trained["W"][0] for m in models]) if models else np.zeros((0, len(self.X)), dt)
        self.b1 = np.vstack([m.trained["b"][0] for m in models]) if models else np.zeros((0, 1), dt)
        start = 0
        for m in models:
            m.rows = slice(start, start + len(m.live))
            m.trained["W"][0], m.trained["b"][0] = self.W1[m.rows], self.b1[m.rows]
            start = m.rows.stop

    def arrays(self, n: int) -> tuple[np.ndarray, ...]:
        """Z1, A1, dZ1 for the live units and n samples."""
        units = self.W1.shape[0]
        if n == self.buffers[0].shape[1]:
            return tuple(b[:units] for b in self.buffers)
        return tuple(np.empty((units, n), self.W1.dtype) for _ in range(3))

    def passes(self, X: np.ndarray, y: np.ndarray, Y: np.ndarray, detect: bool) -> tuple[dict[int, Pass], np.ndarray]:
        """Forward and backward of every model still training on X (784, N); and, if `detect`, which
        stacked rows are dead on all of X."""
        Z1, A1, dZ1 = self.arrays(X.shape[1])
        np.matmul(self.W1, X, out=Z1)
        Z1 += self.b1
        self.act(Z1, out=A1)
        steps = {
            i: live_pass(m, Z1[m.rows], A1[m.rows], y, Y, dZ1[m.rows], self.act)
            if len(m.live)
            else constant_pass(m, y, self.act)
            for i, m in self.training()
        }
        for _, m in self.training():
            m.unit_passes, m.passes = m.unit_passes + len(m.live), m.passes + 1
        dW1 = self.dW1[: len(self.W1)]
        np.matmul(dZ1, X.T, out=dW1)
        db1 = dZ1.sum(axis=1, keepdims=True)
        for i, m in self.training():
            steps[i].grads["W"].insert(0, dW1[m.rows])
            steps[i].grads["b"].insert(0, db1[m.rows])
        dead = A1.max(axis=1, initial=0) <= 0 if detect else np.zeros(len(A1), bool)
        return steps, dead

    def batch(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = self.y[idx]
        return self.X_rows[idx].T, y, one_hot(y, N_CLASSES, self.W1.dtype)

    def test_hidden(self, evaluating: list[int]) -> np.ndarray | None:
        """First-layer activations of every live row on the test set, one product for all models, when
        the models evaluating hold most of the rows (else each computes its own). The test set goes
        through every input: the unused ones may be lit there."""
        rows = sum(len(self.models[i].live) for i in evaluating)
        if not evaluating or 2 * rows < len(self.W1):
            return None
        for _, m in self.training():
            m.sync()
        W1 = np.vstack([m.params["W"][0][m.live] for _, m in self.training()])
        return self.act(W1 @ self.data.X_test + self.b1)

    def test_predictions(self, m: Model, hidden: np.ndarray | None = None) -> np.ndarray:
        """Predicted test classes of a model: its live units (rows of `hidden` if given), plus the dead
        ones' fixed share. Kept on the model until it next moves, so its final metrics reuse them.
        The model is synced: its W1 rows are read with every input."""
        if m.test_pred is None or m.test_pred[0] != m.iteration:
            W1, b1 = m.params["W"][0][m.live], m.trained["b"][0]
            A1 = hidden[m.rows] if hidden is not None else self.act(W1 @ self.data.X_test + b1)
            Zs, _ = forward(upper(m.trained), A1, m.test_extra, self.act)
            m.test_pred = (m.iteration, Zs[-1].argmax(axis=0))
        return m.test_pred[1]

    # ------------------------------------------------------------ the loop

    def evaluating(self, m: Model) -> bool:
        """Every eval_period iterations and after the last; before the first period also at iterations
        1, 2, 4, 8, ..., where units die (nnscratch.diagnose reads when). Evaluations never change training."""
        i = m.iteration
        early = 0 < i < self.eval_period and i & (i - 1) == 0
        return i % self.eval_period == 0 or i == self.tc["iterations"] or early

    def progress(self) -> list[Done]:
        """Each model's (planned, actual, live): work done as fractions of its planned work (every
        unit for every iteration), planned counting its iterations and actual only the units it
        computed; and the share of its first-layer units alive now, which bounds the rest of its work
        (a dead unit stays dead)."""
        done = [1.0 if m.final else m.iteration / self.tc["iterations"] for m in self.models]
        return [
            (f, f * m.unit_passes / max(1, m.width * m.passes), len(m.live) / m.width)
            for f, m in zip(done, self.models)
        ]

    def train(self) -> list[RunResult]:
        t0 = reported = time.perf_counter()
        threads = threadpool_limits(limits=self.tc["blas_threads"], user_api="blas")
        # overflow is how divergence shows; it is detected below and reported, so numpy need not warn
        with threads, np.errstate(over="ignore", invalid="ignore"):
            while self.admit():
                evaluating = [i for i, m in self.training() if self.evaluating(m)]
                dead = np.zeros(len(self.W1), bool)
                if self.full_batch or evaluating:
                    steps, dead = self.passes(self.X, self.y, self.Y, detect=self.skip)
                    hidden = self.test_hidden(evaluating)
                    for i in evaluating:
                        m = self.models[i]
                        m.history.append(self.evaluate(m, steps[i], hidden))
                if not self.full_batch and self.models[0].iteration < self.tc["iterations"]:
                    steps, _ = self.passes(*self.batch(next(self.next_batch)), detect=False)
                self.advance(steps, dead, t0)
                if self.report and time.perf_counter() - reported >= REPORT_EVERY:
                    self.report(self.progress())
                    reported = time.perf_counter()
        return share_time(self.models, time.perf_counter() - t0)

    def advance(self, steps: dict[int, Pass], dead: np.ndarray, t0: float) -> None:
        """Stop the models that diverged or are done, update the others, then drop dead rows."""
        changed = False
        for i, s in steps.items():
            m = self.models[i]
            if not np.isfinite(s.loss) or m.iteration == self.tc["iterations"]:
                m.sync()
                diverged = not np.isfinite(s.loss) or not all_finite(m.params)
                regular = [h for h in m.history if h["iteration"] % self.eval_period == 0 or h is m.history[-1]]
                m.final = final_metrics(self.test_predictions(m), self.data, m.history, diverged, self.tc, t0, regular)
                changed = True
            else:
                m.optimizer.step(m.trained, s.grads, self.lr)
                m.iteration += 1
        for _, m in self.training():
            if dead[m.rows].any():
                self.drop(m, dead[m.rows])
                changed = True
        if changed:
            self.restack()

    def drop(self, m: Model, dead: np.ndarray) -> None:
        """Take a model's dead units out of training; add their fixed output to its test Z2."""
        m.sync()
        W, b = m.params["W"], m.params["b"]
        gone, keep = m.live[dead], ~dead
        share = W[1][:, gone] @ self.act(W[0][gone] @ self.data.X_test + b[0][gone])
        m.test_extra = share if m.test_extra is None else m.test_extra + share
        m.live = m.live[keep]
        m.trained["W"][0], m.trained["b"][0] = m.trained["W"][0][keep], m.trained["b"][0][keep]
        m.trained["W"][1] = W[1][:, m.live]

    def evaluate(self, m: Model, s: Pass, hidden: np.ndarray | None) -> dict:
        """One history row: loss and accuracies of this pass over the full training set, the test set's,
        and the diagnostics of every hidden layer, of the whole network (skipped units included)."""
        m.sync()
        test_pred = self.test_predictions(m, hidden)
        train_pred = s.log_probs.argmax(axis=0)
        train_acc = float(s.weights[train_pred[0]]) if s.weights is not None else dg.accuracy(train_pred, self.y)
        row = {
            "iteration": m.iteration,
            "loss": s.loss,
            "train_acc": train_acc,
            "test_acc": dg.accuracy(test_pred, self.data.y_test),
            "test_classes": int(len(np.unique(test_pred))),
        }
        skipped = [m.width - len(m.live)] + [0] * (len(s.As) - 1)
        for l, (A, n_skipped) in enumerate(zip(s.As, skipped), start=1):
            row |= layer_row(l, A, n_skipped, m.params, s.grads, self.act.can_die)
            row[f"saturated_l{l}"] = dg.saturated_fraction(A, self.act.name, n_skipped)
            row[f"rank_l{l}"] = dg.effective_rank(m.params["W"][l - 1])
        # mean |Z1| of the units computed (skipped dead ones left out): the input's scale as layer 1 sees it
        computed = s.Z1 is not None and s.Z1.size
        row["pre_abs_l1"] = float(np.abs(s.Z1).mean(dtype=np.float64)) if computed else dg.NAN
        row["grad_norm_out"] = float(np.linalg.norm(s.grads["W"][-1]))
        return row


def used_inputs(X: np.ndarray) -> np.ndarray | None:
    """Indices of the inputs (rows of X: (784, N)) that are nonzero on some sample; None if all are."""
    used = X.any(axis=1)
    return None if used.all() else np.flatnonzero(used)


def new_model(cfg: dict, inputs: np.ndarray | None = None) -> Model:
    """A model to train on the given inputs (None: all)."""
    params = build_params(cfg)
    trained = {g: list(ps) for g, ps in params.items()}
    W1 = params["W"][0]
    # C order, as every other array of the step: a[:, idx] comes out in Fortran order, and a stack of
    # one would keep it (np.vstack follows its inputs), making `W -= lr * dW` a strided loop
    trained["W"][0] = W1.copy() if inputs is None else np.ascontiguousarray(W1[:, inputs])
    trained["b"][0] = params["b"][0].copy()
    optimizer = make_optimizer(cfg.get("optimizer") or {"name": "gd"})
    return Model(cfg, params, trained, np.arange(W1.shape[0]), inputs, optimizer=optimizer)


def layer_row(l: int, A: np.ndarray, skipped: int, params: Params, grads: Params, can_die: bool = True) -> dict:
    """Diagnostics of hidden layer l from its activations A (units computed, columns); `skipped` more
    units are dead and output 0 everywhere. Each value is the whole layer's, as if none were skipped."""
    units = A.shape[0] + skipped
    size = units * A.shape[1]
    return {
        # dead: zero activation gradient on every sample, which only ReLU has (empty otherwise)
        f"dead_l{l}": float(((A.max(axis=1, initial=0) <= 0).sum() + skipped) / units) if can_die else float("nan"),
        f"zero_ratio_l{l}": float((np.count_nonzero(A == 0) + skipped * A.shape[1]) / size),
        f"act_mean_l{l}": float(A.sum(dtype=np.float64) / size),
        f"grad_norm_l{l}": float(np.linalg.norm(grads["W"][l - 1])),
        f"distinct_l{l}": dg.distinct_units(params["W"][l - 1], params["b"][l - 1]),
    }


def final_metrics(
    test_pred: np.ndarray,
    data: Prepared,
    history: list[dict],
    diverged: bool,
    tc: dict,
    t0: float,
    regular: list[dict] | None = None,
) -> dict:
    """The run's final numbers: the last history row, with outcome and test accuracy of the final
    parameters (for a diverged run, the last evaluation's test accuracy stands). best_test_acc is the
    best of the `regular` rows (default: all), i.e. without the early ones at iterations 1, 2, 4, ..."""
    last = history[-1] if history else {}
    metrics = dict(last)
    metrics |= {
        "outcome": dg.outcome(test_pred, data.y_test, diverged, tc["collapse_margin"]),
        "best_test_acc": max((h["test_acc"] for h in (history if regular is None else regular)), default=float("nan")),
        "majority_rate": dg.majority_rate(data.y_test),
        "seconds": time.perf_counter() - t0,
    }
    if not diverged:
        metrics["test_acc"] = dg.accuracy(test_pred, data.y_test)
        metrics["test_classes"] = int(len(np.unique(test_pred)))
    return metrics


def share_time(models: list[Model], seconds: float) -> list[RunResult]:
    """Split the stack's wall time between its runs by the first-layer work each did (units computed
    per pass, plus one per pass for the layers above), and record the share of its dense work it did."""
    work = np.array([m.unit_passes + m.passes for m in models], float)
    for m, w in zip(models, work):
        m.final["seconds"] = seconds * w / work.sum()
        m.final["live_fraction"] = m.unit_passes / max(1, m.width * m.passes)
    return [RunResult(m.history, m.final) for m in models]


def train_stack(
    cfgs: list[dict],
    data: Prepared,
    max_rows: int | None = None,
    report: Callable[[list[Done]], None] | None = None,
) -> list[RunResult]:
    """Train runs that share data and schedule together, at most `max_rows` live first-layer rows at
    once (None: all of them); one RunResult per config, in order. `report`, if given, is called about
    every REPORT_EVERY seconds with each run's progress so far (Stack.progress)."""
    return Stack(cfgs, data, max_rows, report).train()


def train(cfg: dict, data: Prepared) -> RunResult:
    """Train one run config on prepared data; divergence stops the run and is reported, not raised."""
    return train_stack([cfg], data)[0]
