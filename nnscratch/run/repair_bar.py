"""The healthy bar of a repair: a try that no longer fails may still be far below what its data allows
(unscaled pixels at lr 0.01, then scaled: 0.40 after 500 iterations, where the log's net reaches 0.84).
So each try is also judged against a healthy reference: the built-in default config (conf/train.yaml:
the log's net, U(-0.5, 0.5) weights, pixels / 255, lr 0.1) trained on the run's own data, subset and seed
for the try's iterations. A try is within the bar when its test accuracy is at least the reference's less
the mode's points (conf/diagnoses.yaml `healthy_bar`: `within_pts`, and a mode's own `within_pts`).

Why the default config and not the best repaired try: the reference is then independent of the fixes (the
best try would pass its own bar by construction, and a list of poor fixes would set a poor bar), it is one
run per data, subset, seed and iteration count shared by every failed run that has them, and at the log's
settings it is the log's own reference run (test 0.8379).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnscratch import diagnose
from nnscratch.config.checks import ConfigError
from nnscratch.config.diagnoses_file import diagnoses_problems
from nnscratch.config.grid import make_spec


@dataclass(frozen=True)
class Bar:
    """What counts as healthy beside "no longer failing": within `within_pts` test-accuracy points of the
    reference, which keeps the run's overrides of the keys `same` and the built-in default for the rest."""

    same: tuple[str, ...] = ("data", "data.subset", "seed", "train.iterations", "train.eval_every")
    within_pts: float = 1.0
    per_mode: dict[str, float] = field(default_factory=dict)

    def points(self, mode: str | None) -> float:
        """The bar of a failure mode, in points below the reference: its own, or the file's."""
        return self.per_mode.get(mode, self.within_pts)


def load_bar(path: Path | None = None) -> Bar:
    """The `healthy_bar` block of a diagnoses file (default conf/diagnoses.yaml) and its modes' own
    `within_pts`; ConfigError naming each problem of the file (nnscratch.config.diagnoses_file), one a line."""
    path = Path(path or diagnose.DIAGNOSES)
    problems = diagnoses_problems(path)
    if problems:
        raise ConfigError("\n".join(problems))
    rules = yaml.safe_load(path.read_text())
    block = rules.get("healthy_bar") or {}
    per_mode = {m["name"]: float(m["within_pts"]) for m in rules["modes"] if m.get("within_pts") is not None}
    same = tuple(block["same"]) if block.get("same") is not None else Bar.same
    return Bar(same, float(block.get("within_pts", 1.0)), per_mode)


def merged(base: list[str], extra: list[str]) -> list[str]:
    """`base` overrides with those of `extra` added, an override of the same key replaced."""
    keys = {o.lstrip("+~").split("=", 1)[0] for o in extra}
    return [o for o in base if o.lstrip("+~").split("=", 1)[0] not in keys] + extra


def reference_overrides(overrides: list[str], bar: Bar, iterations: int | None) -> list[str]:
    """The reference's overrides: the run's own of the keys `bar.same`, and the try's iterations (the
    budget's) when they are set."""
    keep = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] in bar.same]
    return merged(keep, [f"train.iterations={iterations}"]) if iterations else keep


def reference_spec(overrides: list[str], bar: Bar, iterations: int | None, axes: list[str]) -> dict:
    """The run spec of a run's healthy reference (its axes: repair_of=reference, try 0, fix=built-in default)."""
    values = {"repair_of": "reference", "try": 0, "fix": "built-in default"}
    spec, problems = make_spec(reference_overrides(overrides, bar, iterations), values, axes)
    if spec is None or problems:
        raise ConfigError("the healthy reference: " + "; ".join(problems))
    return spec


def within(test_acc: float | None, reference_acc: float | None, points: float) -> bool:
    """Whether a try's test accuracy is at most `points` below the reference's (False without either)."""
    if test_acc is None or reference_acc is None or math.isnan(test_acc) or math.isnan(reference_acc):
        return False
    return test_acc >= reference_acc - points / 100 - 1e-9
