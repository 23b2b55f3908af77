"""What a run records: a history row at every evaluation (loss, accuracies, and the internals of
every hidden layer the learning log debugged by), its final metrics, and its share of a stack's time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnscratch import diagnostics as dg
from nnscratch.data import Prepared
from nnscratch.network import Activation, Params
from nnscratch.train.model import Model, Pass


@dataclass
class RunResult:
    """history: one dict per evaluation; metrics: the final numbers of the run."""

    history: list[dict]
    metrics: dict


def history_row(m: Model, s: Pass, test_pred: np.ndarray, data: Prepared, act: Activation) -> dict:
    """One history row: loss and accuracies of this pass over the full training set (labels
    data.y_train: (N,)), the test set's (predicted classes test_pred against data.y_test: (N_test,)),
    and the diagnostics of every hidden layer, of the whole network (skipped units included). `m` is synced."""
    train_pred = s.log_probs.argmax(axis=0)
    train_acc = float(s.weights[train_pred[0]]) if s.weights is not None else dg.accuracy(train_pred, data.y_train)
    row = {
        "iteration": m.iteration,
        "loss": s.loss,
        "train_acc": train_acc,
        "test_acc": dg.accuracy(test_pred, data.y_test),
        "test_classes": int(len(np.unique(test_pred))),
    }
    skipped = [m.width - len(m.live)] + [0] * (len(s.As) - 1)
    for l, (A, n_skipped) in enumerate(zip(s.As, skipped), start=1):
        row |= layer_row(l, A, n_skipped, m.params, s.grads, act.can_die)
        row[f"saturated_l{l}"] = dg.saturated_fraction(A, act.name, n_skipped)
        row[f"rank_l{l}"] = dg.effective_rank(m.params["W"][l - 1])
    # mean |Z1| of the units computed (skipped dead ones left out): the input's scale as layer 1 sees it
    computed = s.Z1 is not None and s.Z1.size
    row["pre_abs_l1"] = float(np.abs(s.Z1).mean(dtype=np.float64)) if computed else dg.NAN
    row["grad_norm_out"] = float(np.linalg.norm(s.grads["W"][-1]))
    return row


def layer_row(l: int, A: np.ndarray, skipped: int, params: Params, grads: Params, can_die: bool = True) -> dict:
    """Diagnostics of hidden layer l from its activations A (units computed, columns); `skipped` more
    units are dead and output 0 everywhere. Each value is the whole layer's, as if none were skipped."""
    units = A.shape[0] + skipped
    size = units * A.shape[1]
    return {
        # dead: zero activation gradient on every sample, which only ReLU has (empty otherwise)
        f"dead_l{l}": float((dg.dead_units(A).sum() + skipped) / units) if can_die else float("nan"),
        f"zero_ratio_l{l}": float((np.count_nonzero(A == 0) + skipped * A.shape[1]) / size),
        f"act_mean_l{l}": float(A.sum(dtype=np.float64) / size),
        f"grad_norm_l{l}": float(np.linalg.norm(grads["W"][l - 1])),
        f"distinct_l{l}": dg.distinct_units(params["W"][l - 1], params["b"][l - 1]),
    }


@dataclass(frozen=True)
class RunEnd:
    """How a run ended: the test classes its final parameters predict (N_test,), whether it diverged,
    and the seconds it took."""

    test_pred: np.ndarray
    diverged: bool
    seconds: float


def final_metrics(
    end: RunEnd, data: Prepared, history: list[dict], collapse_margin: float, regular: list[dict] | None = None
) -> dict:
    """The run's final numbers: the last history row, with outcome and test accuracy of the final
    parameters (for a diverged run, the last evaluation's test accuracy stands). best_test_acc is the
    best of the `regular` rows (default: all), i.e. without the early ones at iterations 1, 2, 4, ...
    collapse_margin: train.collapse_margin (nnscratch.diagnostics.outcome)."""
    last = history[-1] if history else {}
    metrics = dict(last)
    metrics |= {
        "outcome": dg.outcome(end.test_pred, data.y_test, end.diverged, collapse_margin),
        "best_test_acc": max((h["test_acc"] for h in (history if regular is None else regular)), default=float("nan")),
        "majority_rate": dg.majority_rate(data.y_test),
        "seconds": end.seconds,
    }
    if not end.diverged:
        metrics["test_acc"] = dg.accuracy(end.test_pred, data.y_test)
        metrics["test_classes"] = int(len(np.unique(end.test_pred)))
    return metrics


def share_time(models: list[Model], seconds: float) -> list[RunResult]:
    """Split the stack's wall time between its runs by the first-layer work each did (units computed
    per pass, plus one per pass for the layers above), and record the share of its dense work it did."""
    work = np.array([m.unit_passes + m.n_passes for m in models], float)
    for m, w in zip(models, work):
        m.final["seconds"] = seconds * w / work.sum()
        m.final["live_fraction"] = m.unit_passes / max(1, m.width * m.n_passes)
    return [RunResult(m.history, m.final) for m in models]
