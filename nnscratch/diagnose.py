"""Why a run failed: its history rows and final metrics -> the failure modes of conf/diagnoses.yaml.

The modes are data (name, condition, evidence sentence, remedy); this module computes each run's
features from what it recorded (history.csv, metrics.json, and the widths and learning rate of its
config.json) and applies them. Pure: no Hydra, no nnscratch.run, no training, so it diagnoses any finished
run folder or sweep folder the same way as the run that wrote it.

    features(history, metrics, config) -> {"pre_abs_0": 544.5, "dead_by_8": 0.9, ...}
    diagnose(history, metrics, config) -> [Diagnosis("input scale", evidence, remedy, override), ...]
"""

from __future__ import annotations

import json
import math
import operator
import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from nnscratch.paths import CONF_DIR

DIAGNOSES = CONF_DIR / "diagnoses.yaml"
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
EARLY = 8  # "dead by iteration 8": the early evaluations are at iterations 1, 2, 4, 8 (nnscratch.train)
LAST_SHARE = 0.2  # the climb is measured over the last fifth of the iterations


@dataclass(frozen=True)
class Diagnosis:
    """One failure mode a run shows: its name, the sentence with the run's numbers, what to try."""

    name: str
    evidence: str
    remedy: str
    override: str
    measured: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the modes file


class ModesError(ValueError):
    """A diagnoses file that cannot be applied."""


def load_modes(path: Path | None = None) -> list[dict]:
    """The modes of a diagnoses file (default conf/diagnoses.yaml), checked: every op known, every
    text a format string."""
    modes = yaml.safe_load(Path(path or DIAGNOSES).read_text())["modes"]
    for mode in modes:
        for clause in mode.get("all", []) + mode.get("any", []):
            if clause.get("op") not in OPS:
                raise ModesError(
                    f"{path or DIAGNOSES}: mode '{mode.get('name')}': unknown op {clause.get('op')!r} "
                    f"(allowed: {' '.join(OPS)})"
                )
    return modes


# ---------------------------------------------------------------- a run's features


def layer_columns(history: pd.DataFrame, prefix: str) -> list[str]:
    """The per-layer columns of one diagnostic, e.g. dead_l1, dead_l2."""
    return [c for c in history.columns if c.startswith(prefix) and c[len(prefix) :].isdigit()]


def worst(row: pd.Series, columns: list[str], how: str = "max") -> float:
    """The largest (or smallest) of a row's per-layer values; NaN if it has none."""
    values = pd.to_numeric(row[columns], errors="coerce").dropna() if columns else pd.Series(dtype=float)
    return float(getattr(values, how)()) if len(values) else math.nan


def first_iteration(history: pd.DataFrame, column: str, level: float) -> float:
    """The first iteration at which `column` reaches `level`; NaN if it never does."""
    if column not in history:
        return math.nan
    hit = history[pd.to_numeric(history[column], errors="coerce") >= level]
    return float(hit["iteration"].iloc[0]) if len(hit) else math.nan


def climb(history: pd.DataFrame, column: str) -> tuple[float, float]:
    """(points gained by `column` over the last fifth of the iterations, the iteration it starts at)."""
    last = history.iloc[-1]
    start = history[history["iteration"] >= (1 - LAST_SHARE) * last["iteration"]].iloc[0]
    gained = float(last[column] - start[column]) if column in history else math.nan
    return 100 * gained, float(start["iteration"])


def pre_abs_seen(history: pd.DataFrame) -> dict:
    """pre_abs_seen: mean |Z1| at the first evaluation (up to iteration EARLY) whose W1 is not zero,
    and pre_abs_iter: its iteration. With random weights that is iteration 0; zero initial weights
    hide the input's scale there (Z1 = b1 whatever the pixels) until the first updates, which are
    proportional to the pixels, make W1 non-zero. Without rank_l1 (older folders): iteration 0."""
    rows = history[history["iteration"] <= EARLY]
    if "pre_abs_l1" not in rows or rows.empty:
        return {"pre_abs_seen": math.nan, "pre_abs_iter": math.nan}
    if "rank_l1" in rows:
        nonzero = rows[pd.to_numeric(rows["rank_l1"], errors="coerce") > 0]
        rows = nonzero if len(nonzero) else rows.iloc[:0]
    if rows.empty:
        return {"pre_abs_seen": math.nan, "pre_abs_iter": math.nan}
    first = rows.iloc[0]
    return {
        "pre_abs_seen": float(pd.to_numeric(first["pre_abs_l1"], errors="coerce")),
        "pre_abs_iter": float(first["iteration"]),
    }


def early_growth(history: pd.DataFrame) -> dict:
    """How much the loss and mean |Z1| grew in the first steps (iterations 1 to EARLY) over iteration 0:
    loss_jump (loss / loss at 0) at the first evaluation whose loss is above iteration 0's (the step that
    started it; the largest ratio, below 1, if none), at loss_jump_iter, reaching loss_peak; pre_growth
    (largest mean |Z1| / at 0) at pre_peak_iter, reaching pre_peak; loss_0. A sane full-batch step lowers the loss and
    leaves |Z1| about as it was; a step too large overshoots, and each unit it pushes far negative dies."""
    out = {}
    rows = history[(history["iteration"] > 0) & (history["iteration"] <= EARLY)]
    for column, ratio, peak, at in (
        ("loss", "loss_jump", "loss_peak", "loss_jump_iter"),
        ("pre_abs_l1", "pre_growth", "pre_peak", "pre_peak_iter"),
    ):
        start = float(pd.to_numeric(history[column], errors="coerce").iloc[0]) if column in history else math.nan
        values = pd.to_numeric(rows[column], errors="coerce").dropna() if column in rows else pd.Series(dtype=float)
        values = values[np.isfinite(values)]
        if values.empty or not start > 0:
            out |= {ratio: math.nan, peak: math.nan, at: math.nan}
            continue
        rose = values[values > start] if column == "loss" else values.iloc[:0]
        top = rose.index[0] if len(rose) else values.idxmax()  # the loss: the first step that raised it
        out |= {ratio: float(values[top] / start), peak: float(values[top]), at: float(rows.loc[top, "iteration"])}
    out["loss_0"] = float(pd.to_numeric(history["loss"], errors="coerce").iloc[0]) if "loss" in history else math.nan
    return out


def symptom(history: pd.DataFrame, f: dict) -> str:
    """What a failure looked like, for a cause's evidence: the loss going inf/NaN, every unit dead by an
    iteration, many units dead, or the collapse; the final test accuracy otherwise."""
    all_dead = first_iteration(history, "dead_l1", 1.0)
    if f["diverged"]:
        return f"the loss or the parameters became inf/NaN after iteration {f['iterations']:.0f}"
    if f.get("dead_final", math.nan) >= 1 and not math.isnan(all_dead):
        return f"every unit was dead by iteration {all_dead:.0f} (test accuracy {f['test_acc']:.3f})"
    if f.get("dead_final", math.nan) >= 0.25:
        return f"{f['dead_final']:.0%} of the units were dead at the end (test accuracy {f['test_acc']:.3f})"
    if f["outcome"] == "collapsed":
        return f"the run collapsed (test accuracy {f['test_acc']:.3f})"
    return f"test accuracy ended at {f['test_acc']:.3f}"


def share(values: pd.Series, widths: list[int]) -> float:
    """The smallest of a layer statistic divided by that layer's width."""
    ratios = [v / w for v, w in zip(values, widths) if w and pd.notna(v)]
    return float(min(ratios)) if ratios else math.nan


def features(history: list[dict] | pd.DataFrame, metrics: dict, config: dict | None = None) -> dict:
    """The numbers the modes read (the header of conf/diagnoses.yaml lists them) of one run.

    history: its rows (iteration, loss, train_acc, test_acc, dead_l1, ..., one per evaluation);
    metrics: its metrics.json; config: its resolved config (widths, learning rate, activation)."""
    h = pd.DataFrame(history)
    config = config or {}
    widths = list(config.get("model", {}).get("hidden", []))
    f = base_features(metrics, config, widths)
    if h.empty or "iteration" not in h:
        return f
    first, last = h.iloc[0], h.iloc[-1]
    dead, early = layer_columns(h, "dead_l"), h[h["iteration"] <= EARLY].iloc[-1]
    f |= {
        "pre_abs_0": float(first.get("pre_abs_l1", math.nan)),
        **pre_abs_seen(h),
        "dead_0": worst(first, dead),
        "dead_start": 0.0 if math.isnan(worst(first, dead)) else worst(first, dead),
        "dead_by_8": worst(early, dead),
        "dead_final": worst(last, dead),
        "dead_iter": first_iteration(h, "dead_l1", 0.5),
        "zero_0": float(first.get("zero_ratio_l1", math.nan)),
        "zero_final": float(last.get("zero_ratio_l1", math.nan)),
        "rank": float(last.get("rank_l1", math.nan)),
        "rank_share": share(last[layer_columns(h, "rank_l")], widths),
        "distinct": float(last.get("distinct_l1", math.nan)),
        "distinct_share": share(last[layer_columns(h, "distinct_l")], widths),
        "saturated_final": worst(last, layer_columns(h, "saturated_l")),
    }
    if f["diverged"]:  # the last rows' weights may be inf/NaN already: their rank and copies mean nothing
        f |= {"rank": math.nan, "rank_share": math.nan, "distinct": math.nan, "distinct_share": math.nan}
    f |= early_growth(h) | {"zero_start": float(float(first.get("rank_l1", math.nan)) == 0)}
    f["symptom"] = symptom(h, f)
    f["test_climb_pts"], f["climb_from"] = climb(h, "test_acc")
    f["train_climb_pts"], _ = climb(h, "train_acc")
    f["iterations"] = float(last["iteration"])
    f["longer"] = 6 * f["iterations"]
    return f


def base_features(metrics: dict, config: dict, widths: list[int]) -> dict:
    """The features read from the final metrics and the config alone."""
    outcome = metrics.get("outcome") or metrics.get("status") or "unknown"
    train = config.get("train", {})
    lr = float(train.get("lr", math.nan))
    number = {k: float(metrics[k]) if metrics.get(k) is not None else math.nan for k in NUMBERS}
    collapse_acc = number["majority_rate"] + float(train.get("collapse_margin", math.nan))
    return number | {
        "outcome": outcome,
        "failed": float(outcome in ("collapsed", "diverged", "failed")),
        "diverged": float(outcome == "diverged"),
        "gap_pts": 100 * (number["train_acc"] - number["test_acc"]),
        "collapse_acc": collapse_acc,
        "above_collapse_pts": 100 * (number["test_acc"] - collapse_acc),
        "units": float(widths[0]) if widths else math.nan,
        "lr": lr,
        "lr_tenth": lr / 10,
        "lr_hundredth": lr / 100,
        "activation": (config.get("activation") or {}).get("name", "relu"),
        "iterations": number["iteration"],
    }


NUMBERS = ("train_acc", "test_acc", "test_classes", "iteration", "loss", "majority_rate")


# ---------------------------------------------------------------- modes applied


class Numbers(string.Formatter):
    """str.format that prints a missing number (NaN) as n/a instead of failing or printing nan%."""

    def format_field(self, value, format_spec: str) -> str:
        if isinstance(value, float) and math.isnan(value):
            return "n/a"
        return super().format_field(value, format_spec)


def holds(clause: dict, f: dict) -> bool:
    """One clause {feature, op, value} on the run's features; a missing or NaN feature fails it."""
    value = f.get(clause["feature"], math.nan)
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(OPS[clause["op"]](value, clause["value"]))


def applies(mode: dict, f: dict) -> bool:
    """Every clause of `all`, and one of `any` when it has some."""
    anyof = mode.get("any", [])
    return all(holds(c, f) for c in mode.get("all", [])) and (not anyof or any(holds(c, f) for c in anyof))


def described(mode: dict, f: dict) -> Diagnosis:
    text = Numbers()
    return Diagnosis(
        mode["name"],
        " ".join(text.format(mode.get("evidence", ""), **f).split()),
        text.format(mode.get("remedy", ""), **f),
        text.format(mode.get("override", ""), **f),
        list(mode.get("measured", [])),
    )


def diagnose(
    history: list[dict] | pd.DataFrame, metrics: dict, config: dict | None = None, modes: list[dict] | None = None
) -> list[Diagnosis]:
    """The modes a run shows, in the file's order (the first is its headline); fallbacks only when
    no other mode applies. A run that failed to run at all has none."""
    if metrics.get("status") == "failed":
        return []
    modes = load_modes() if modes is None else modes
    f = features(history, metrics, config)
    found = [described(m, f) for m in modes if not m.get("fallback") and applies(m, f)]
    first: dict[str, Diagnosis] = {}
    for d in found:  # a mode listed twice (two ways to show it): its first match
        first.setdefault(d.name, d)
    found = list(first.values())
    return found or [described(m, f) for m in modes if m.get("fallback") and applies(m, f)][:1]


def summary(diagnoses: list[Diagnosis]) -> dict:
    """The columns metrics.json and results.csv carry: every mode's name (headline first), the
    headline's evidence and the override to try."""
    if not diagnoses:
        return {"diagnosis": None, "diagnoses": None, "diagnosis_evidence": None, "diagnosis_fix": None}
    head = diagnoses[0]
    return {
        "diagnosis": head.name,
        "diagnoses": "; ".join(d.name for d in diagnoses),
        "diagnosis_evidence": head.evidence,
        "diagnosis_fix": head.override or None,
    }


def lines(diagnoses: list[Diagnosis]) -> list[str]:
    """Two or three plain lines for a person: the headline and its evidence, what to try, the others."""
    if not diagnoses:
        return []
    head = diagnoses[0]
    out = [f"diagnosis: {head.name} — {head.evidence}"]
    if head.remedy:
        out.append(f"try: {head.remedy}" + (f" ({head.override})" if head.override else ""))
    if len(diagnoses) > 1:
        out.append("also: " + "; ".join(f"{d.name} — {d.evidence}" for d in diagnoses[1:]))
    return out


# ---------------------------------------------------------------- folders


def diagnose_folder(run_dir: Path, modes: list[dict] | None = None) -> list[Diagnosis]:
    """Diagnose a finished run folder from its config.json, metrics.json and history.csv."""
    run_dir = Path(run_dir)
    spec = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    csv = run_dir / "history.csv"
    history = pd.read_csv(csv) if csv.is_file() and csv.stat().st_size > 1 else pd.DataFrame()
    return diagnose(history, metrics, spec.get("config", {}), modes)


def diagnose_histories(
    runs: pd.DataFrame, histories: pd.DataFrame, configs: dict[str, dict], modes: list[dict] | None = None
) -> pd.DataFrame:
    """Every run of a sweep diagnosed: run_id and the summary columns (diagnosis, diagnoses, evidence,
    fix). runs: results.csv; histories: read_histories (run_id column); configs: {run_id: config}."""
    modes = load_modes() if modes is None else modes
    by_run = dict(tuple(histories.groupby("run_id"))) if len(histories) else {}
    rows = []
    for r in runs.to_dict("records"):
        h = by_run.get(r["run_id"], pd.DataFrame()).drop(columns="run_id", errors="ignore")
        metrics = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        rows.append({"run_id": r["run_id"]} | summary(diagnose(h, metrics, configs.get(r["run_id"]), modes)))
    return pd.DataFrame(rows)
