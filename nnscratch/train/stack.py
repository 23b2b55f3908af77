"""Gradient descent on MLPs that share their training data: a single run is a stack of one.

One iteration is the log's: forward on the batch, loss, backward, `W -= lr * dW`, written out in
nnscratch.train.iteration (read that first: this module is that iteration, optimised). Full-batch by
default (batch_size null); mini-batch SGD draws a fresh permutation of the training set each epoch.
Every `eval_every` epochs (full batch: iterations) and after the last, a pass over the whole
training set and the test set records the history's diagnostics.

Runs that train on the same X with the same schedule train together (`nnscratch.run.plan.tasks` groups them),
their first layers stacked row-wise, so that one large product reads the data once for them all:

    Z1_all = W1_all @ X + b1_all          (live hidden units of every model, N)
    dW1_all = dZ1_all @ X.T

Each model's rows are its own (a product computes each output row from its own row of W1 only), so
a model that diverges stops without touching its neighbours; the layers above the first are per
model. BLAS may still round a row differently with the product's shape, so a model's last bits
depend on its stack-mates (nnscratch.run.plan.tasks plans them without regard to the worker count). A stack
of one does exactly the single network's products.

Dead first-layer units are skipped (`train.skip_dead`). A ReLU unit whose pre-activation is <= 0
on every training sample gets zero gradient on its incoming weights and bias (ReLU'(z <= 0) = 0)
and on its outgoing weights (its activation is 0); plain gradient descent then leaves all of them,
and so its pre-activations on the fixed training set, exactly as they are: it is dead for good. Its
row leaves the stacked products, and its fixed contribution to the test set's second-layer input is
computed once. A model with no live unit left is a constant function of its input: the rest of its
run is one column weighted by the class frequencies, with no product over the inputs (MNIST: 784).
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
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch import diagnostics as dg
from nnscratch.data import Prepared
from nnscratch.network import (
    Activation,
    forward,
    one_hot,
)
from nnscratch.run_config import RunConfig, run_config
from nnscratch.train import saved
from nnscratch.train.history import RunEnd, RunResult, final_metrics, history_row, share_time
from nnscratch.train.model import (
    FirstLayer,
    Labels,
    Model,
    Pass,
    all_finite,
    constant_pass,
    live_pass,
    new_model,
    upper,
)
from nnscratch.train.saved import UnusableState
from nnscratch.train.skip import can_skip, fixed_test_share, used_inputs

REPORT_EVERY = 1.0  # seconds between a stack's progress reports (train_stack's `report`)
MINIBATCH_EARLY = 8  # a mini-batch run's last early evaluation (Stack.evaluating; nnscratch.diagnose reads 1 to 8)


class RunProgress(NamedTuple):
    """How far a run of a stack is, as fractions: of its planned work (every unit, every iteration)
    by iterations done, of it by units actually computed, and its share of first-layer units alive."""

    planned: float
    actual: float
    live: float


def never() -> bool:
    return False


class Checkpoint(NamedTuple):
    """When a stack saves its state: about every `every` seconds, and after any iteration at which
    `asked()` is true; save(Stack.state()) does it."""

    every: float
    save: Callable[[bytes], None]
    asked: Callable[[], bool] = never


class Batches:
    """Index arrays forever: everything (None, full batch) or shuffled mini-batches, epoch by epoch
    (a fresh permutation each). An object, not a generator, so that a checkpoint can save where it
    is (its RNG's state, this epoch's order and the next batch's start: Stack.state)."""

    def __init__(self, n: int, batch_size: int | None, rng: np.random.Generator):
        self.n, self.size, self.rng = n, batch_size, rng
        self.order, self.start = None, 0

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray | None:
        if self.size is None or self.size >= self.n:
            return None
        if self.order is None or self.start + self.size > self.n:
            self.order, self.start = self.rng.permutation(self.n), 0
        self.start += self.size
        return self.order[self.start - self.size : self.start]


def batches(n: int, batch_size: int | None, rng: np.random.Generator) -> Batches:
    """Index arrays forever: everything (full batch) or shuffled mini-batches, epoch by epoch."""
    return Batches(n, batch_size, rng)


@dataclass(frozen=True)
class Hooks:
    """What a stack calls back as it trains, each optional. `report` is called about every REPORT_EVERY
    seconds with each run's progress so far (Stack.progress); `on_stop` with (index of the config, its
    RunResult: Stack.stopped) the moment each run finishes or diverges, so that its record can be
    written before the stack ends. `checkpoint` is a Checkpoint or its fields as a tuple
    (every, save[, asked])."""

    report: Callable[[list[RunProgress]], None] | None = None
    on_stop: Callable[[int, RunResult], None] | None = None
    checkpoint: tuple | None = None


NO_HOOKS = Hooks()


# ---------------------------------------------------------------- the stack


class Stack:
    """Models that train on the same data and schedule, first layers stacked (see the module doc).

    With `max_rows`, models are admitted in order while their live first-layer rows fit, and the
    next ones as others finish or lose units: the stacked products stay large (one read of X serves
    many rows) however many units die. Each model keeps its own iteration count, so when it joined
    changes none of its numbers beyond float32 rounding.

    `hooks` (Hooks) are what it calls back as it trains.
    """

    def __init__(
        self, cfgs: list[RunConfig | dict], data: Prepared, max_rows: int | None = None, hooks: Hooks = NO_HOOKS
    ):
        cfgs = [run_config(c) for c in cfgs]  # a record's plain config read as its object
        self.cfg = cfgs[0]  # what the stacked runs share: data, train, activation (nnscratch.run.plan)
        self.data, self.max_rows, self.report = data, max_rows, hooks.report
        # (every, save, asked): asked() says a state is wanted now (a stopping sweep), whatever `every` says
        self.on_stop = hooks.on_stop
        self.checkpoint = Checkpoint(*hooks.checkpoint) if hooks.checkpoint else None
        self.X, self.y = data.X_train, data.y_train
        skip_dead = self.cfg.train.skip_dead
        inputs = used_inputs(self.X) if skip_dead else None
        if inputs is not None:
            self.X = self.X[inputs]
        self.models = [new_model(c, data.n_inputs, data.n_classes, inputs) for c in cfgs]
        dt = self.models[0].params["W"][0].dtype
        self.lr = dt.type(self.cfg.train.lr)
        self.Y = one_hot(self.y, data.n_classes, dt)
        batch_size = self.cfg.train.batch_size
        self.full_batch = batch_size is None or batch_size >= len(self.y)
        if not self.full_batch and len(cfgs) > 1:
            raise ValueError("mini-batch runs draw their own batches: they train alone, not stacked")
        self.act = Activation(**vars(self.cfg.activation))
        # only a ReLU unit can have zero gradient on every sample, and only a stateless update leaves it
        # there: momentum or Adam still move a unit that has just died (nnscratch.run.plan stacks like with like)
        self.skip = skip_dead and can_skip(self.act, [m.optimizer for m in self.models])
        # evaluations every eval_every epochs: a full-batch iteration is an epoch, a mini-batch one a batch
        epoch = 1 if self.full_batch else len(self.y) // batch_size
        self.eval_period = self.cfg.train.eval_every * epoch
        self.last_early = self.eval_period if self.full_batch else min(self.eval_period, MINIBATCH_EARLY + 1)
        # a samples-major copy: gathering a batch's rows is contiguous, its columns are not
        self.X_rows = None if self.full_batch else np.ascontiguousarray(self.X.T)
        self.next_batch = batches(len(self.y), batch_size, np.random.default_rng([self.cfg.seed, 1]))
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

    def arrays(self, n: int) -> FirstLayer:
        """Z1, A1, dZ1 for the live units and n samples."""
        units = self.W1.shape[0]
        if n == self.buffers[0].shape[1]:
            return FirstLayer(*(b[:units] for b in self.buffers))
        return FirstLayer(*(np.empty((units, n), self.W1.dtype) for _ in range(3)))

    def forward_backward(
        self, X: np.ndarray, y: np.ndarray, Y: np.ndarray, detect: bool
    ) -> tuple[dict[int, Pass], np.ndarray]:
        """One pass (forward and backward) of every model still training, on X (inputs used, N), its
        labels y (N,) and one-hot Y (classes, N): {model index: Pass}, and, if `detect`, which stacked
        rows are dead on all of X ((rows,) bool; else all False)."""
        first = self.arrays(X.shape[1])
        Z1, A1, dZ1 = first.Z1, first.A1, first.dZ1
        np.matmul(self.W1, X, out=Z1)
        Z1 += self.b1
        self.act(Z1, out=A1)
        labels = Labels(y, Y)
        steps = {
            i: live_pass(m, first.rows(m.rows), labels, self.act) if len(m.live) else constant_pass(m, y, self.act)
            for i, m in self.training()
        }
        for _, m in self.training():
            m.unit_passes, m.n_passes = m.unit_passes + len(m.live), m.n_passes + 1
        dW1 = self.dW1[: len(self.W1)]
        np.matmul(dZ1, X.T, out=dW1)
        db1 = dZ1.sum(axis=1, keepdims=True)
        for i, m in self.training():
            steps[i].grads["W"].insert(0, dW1[m.rows])
            steps[i].grads["b"].insert(0, db1[m.rows])
        dead = dg.dead_units(A1) if detect else np.zeros(len(A1), bool)
        return steps, dead

    def batch(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mini-batch of sample indices idx (B,): X (inputs used, B), y (B,), one-hot Y (classes, B)."""
        y = self.y[idx]
        return self.X_rows[idx].T, y, one_hot(y, self.data.n_classes, self.W1.dtype)

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
        1, 2, 4, 8, ..., where units die (nnscratch.diagnose reads when: up to iteration 8). A mini-batch
        run's early evaluations stop at MINIBATCH_EARLY: each is a pass over the whole training set, an
        epoch's work where a full-batch run's is one iteration's (at 16, 32, ..., 4096 batches, nine
        passes: nearly the work of 10 epochs of training). Evaluations never change training (a mini-batch run drops the
        units an evaluation finds dead: only the float32 rounding of the products can move with when)."""
        i = m.iteration
        early = 0 < i < self.last_early and i & (i - 1) == 0
        return i % self.eval_period == 0 or i == self.cfg.train.iterations or early

    def progress(self) -> list[RunProgress]:
        """Each model's (planned, actual, live): work done as fractions of its planned work (every
        unit for every iteration), planned counting its iterations and actual only the units it
        computed; and the share of its first-layer units alive now, which bounds the rest of its work
        (a dead unit stays dead)."""
        done = [1.0 if m.final else m.iteration / self.cfg.train.iterations for m in self.models]
        return [
            (f, f * m.unit_passes / max(1, m.width * m.n_passes), len(m.live) / m.width)
            for f, m in zip(done, self.models)
        ]

    def state(self) -> bytes:
        """Everything the rest of the training depends on, between two iterations, as arrays and plain
        data (nnscratch.train.saved: no pickle): every model (parameters, what the iterations update,
        optimizer state, iteration, history, live units, admitted or not, final metrics) and where the
        batches are. The stacked W1 and b1 are the models' rows: restore stacks them again, with the
        same values in the same order."""
        b = self.next_batch
        batches = {"rng": b.rng.bit_generator.state, "order": b.order, "start": b.start}
        return saved.encode({"models": [saved.model_state(m) for m in self.models], "batches": batches})

    def restore(self, state: bytes) -> None:
        """Continue from `state` (Stack.state of a stack of the same configs and data). Nothing changes
        and UnusableState says why when it is not such a state (another version's, or made by hand)."""
        plain = saved.decode(state)
        try:
            if len(plain["models"]) != len(self.models):
                raise UnusableState(f"holds {len(plain['models'])} models, this task trains {len(self.models)}")
            models = [saved.restored_model(m, s) for m, s in zip(self.models, plain["models"])]
            rng = np.random.default_rng()
            rng.bit_generator.state = plain["batches"]["rng"]
            order, start = plain["batches"]["order"], int(plain["batches"]["start"])
            if order is not None and (order.dtype.kind != "i" or order.shape != (len(self.y),)):
                raise UnusableState(f"holds a batch order of {order.dtype} {order.shape}, not {len(self.y)} indices")
        except UnusableState:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise UnusableState(f"does not fit this task ({type(err).__name__}: {err})") from None
        self.models = models
        self.next_batch.rng, self.next_batch.order, self.next_batch.start = rng, order, start
        self.restack()

    def train(self) -> list[RunResult]:
        t0 = reported = saved = time.perf_counter()
        threads = threadpool_limits(limits=self.cfg.train.blas_threads, user_api="blas")
        # overflow is how divergence shows; it is detected below and reported, so numpy need not warn
        with threads, np.errstate(over="ignore", invalid="ignore"):
            while self.admit():
                evaluating = [i for i, m in self.training() if self.evaluating(m)]
                dead = np.zeros(len(self.W1), bool)
                if self.full_batch or evaluating:
                    steps, dead = self.forward_backward(self.X, self.y, self.Y, detect=self.skip)
                    hidden = self.test_hidden(evaluating)
                    for i in evaluating:
                        m = self.models[i]
                        m.history.append(self.evaluate(m, steps[i], hidden))
                if not self.full_batch and self.models[0].iteration < self.cfg.train.iterations:
                    steps, _ = self.forward_backward(*self.batch(next(self.next_batch)), detect=False)
                self.advance(steps, dead, t0)
                if self.report and time.perf_counter() - reported >= REPORT_EVERY:
                    self.report(self.progress())
                    reported = time.perf_counter()
                due = self.checkpoint and time.perf_counter() - saved >= self.checkpoint.every
                if self.checkpoint and (due or self.checkpoint.asked()):
                    self.checkpoint.save(self.state())
                    saved = time.perf_counter()
        return share_time(self.models, time.perf_counter() - t0)

    def advance(self, steps: dict[int, Pass], dead: np.ndarray, t0: float) -> None:
        """Stop the models that diverged or are done, update the others with their pass's gradients
        (`steps`: {model index: Pass}), then drop the stacked rows that `dead` ((rows,) bool) marks."""
        changed = False
        for i, s in steps.items():
            m = self.models[i]
            if not np.isfinite(s.loss) or m.iteration == self.cfg.train.iterations:
                m.sync()
                diverged = not np.isfinite(s.loss) or not all_finite(m.params)
                regular = [h for h in m.history if h["iteration"] % self.eval_period == 0 or h is m.history[-1]]
                end = RunEnd(self.test_predictions(m), diverged, time.perf_counter() - t0)
                m.final = final_metrics(end, self.data, m.history, self.cfg.train.collapse_margin, regular)
                changed = True
                if self.on_stop:
                    self.on_stop(i, self.stopped(m, t0))
            else:
                m.optimizer.step(m.trained, s.grads, self.lr)
                m.iteration += 1
        for _, m in self.training():
            if dead[m.rows].any():
                self.drop(m, dead[m.rows])
                changed = True
        if changed:
            self.restack()

    def stopped(self, m: Model, t0: float) -> RunResult:
        """A model's record the moment it stops: its share of the stack's time so far, split by the
        work done as share_time splits the whole at the end, and its share of dense work done."""
        work = sum(x.unit_passes + x.n_passes for x in self.models)
        seconds = (time.perf_counter() - t0) * (m.unit_passes + m.n_passes) / max(1, work)
        done = {"seconds": seconds, "live_fraction": m.unit_passes / max(1, m.width * m.n_passes)}
        return RunResult(list(m.history), m.final | done)

    def drop(self, m: Model, dead: np.ndarray) -> None:
        """Take a model's dead units (`dead`: (its live rows,) bool) out of training; add their fixed
        output to its test Z2."""
        m.sync()
        gone, keep = m.live[dead], ~dead
        share = fixed_test_share(m.params, gone, self.data.X_test, self.act)
        m.test_extra = share if m.test_extra is None else m.test_extra + share
        m.live = m.live[keep]
        m.trained["W"][0], m.trained["b"][0] = m.trained["W"][0][keep], m.trained["b"][0][keep]
        m.trained["W"][1] = m.params["W"][1][:, m.live]

    def evaluate(self, m: Model, s: Pass, hidden: np.ndarray | None) -> dict:
        """One history row of a model (nnscratch.train.history.history_row), after syncing it."""
        m.sync()
        return history_row(m, s, self.test_predictions(m, hidden), self.data, self.act)


def train_stack(
    cfgs: list[RunConfig | dict],
    data: Prepared,
    max_rows: int | None = None,
    state: bytes | None = None,
    hooks: Hooks = NO_HOOKS,
) -> list[RunResult]:
    """Train runs that share data and schedule together, at most `max_rows` live first-layer rows at
    once (None: all of them); one RunResult per config, in order. `hooks` (Hooks) are what the stack calls
    back; `state` (bytes of Stack.state) is where to continue from: the rest of the training is the same
    computation, so bit for bit the same numbers as a stack that never stopped."""
    stack = Stack(cfgs, data, max_rows, hooks)
    if state is not None:
        stack.restore(state)
    return stack.train()


def train(cfg: RunConfig | dict, data: Prepared) -> RunResult:
    """Train one run config on prepared data; divergence stops the run and is reported, not raised."""
    return train_stack([cfg], data)[0]
