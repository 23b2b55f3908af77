"""The schema of a diagnoses file (conf/diagnoses.yaml): its healthy bar, its `repaired` clauses and each
failure mode, typed by OmegaConf against the dataclasses below, before a repair starts.

A misspelled key is a silent default otherwise (`within_pt: 5` under `healthy_bar` would leave the bar at
one point). `diagnoses_problems(path)` returns each problem as one line naming the file, the block and the
key, with the nearest valid key, e.g.

    diagnoses.yaml.healthy_bar: unknown key 'within_pt' (did you mean 'within_pts'?) (keys: same, within_pts)

What a type cannot say is checked here by name: a clause's `op`, and a bar in accuracy points from 0 to 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from nnscratch.config.claims_file import typed_rule_file
from nnscratch.config.schema import nearest, typed_block
from nnscratch.diagnose import OPS


@dataclass
class Clause:
    """{feature, op, value}: one feature of a run compared with a value (nnscratch.diagnose.holds)."""

    feature: str = MISSING
    op: str = MISSING
    value: Any = MISSING


@dataclass
class HealthyBar:
    """What a repair's try is judged against (nnscratch.run.repair_bar): the keys the reference keeps from
    the run (null: repair_bar.Bar's), and how many accuracy points below the reference still count."""

    same: list[str] | None = None
    within_pts: float = 1.0


@dataclass
class Mode:
    """One failure mode: when it holds (`all`, `any`), what it says, what to try, what repair tries."""

    name: str = MISSING
    all: list[Any] | None = None  # each a Clause
    any: list[Any] | None = None  # each a Clause
    evidence: str = ""
    remedy: str = ""
    override: str = ""
    measured: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    fallback: bool = False
    within_pts: float | None = None  # the mode's own healthy bar


@dataclass
class DiagnosesFile:
    title: str = ""
    repaired: list[Any] = field(default_factory=list)  # each a Clause
    healthy_bar: HealthyBar | None = None
    modes: list[Any] = MISSING  # each a Mode


def clause_problems(where: str, clause: Any) -> list[str]:
    """One clause's keys and types, then its op."""
    _, problems = typed_block(where, Clause, clause)
    if problems or clause["op"] in OPS:
        return problems
    op = str(clause["op"])
    return [f"{where}.op: unknown op {op!r}{nearest(op, list(OPS))} (allowed: {' '.join(OPS)})"]


def points_problems(where: str, points: float | None) -> list[str]:
    """A bar in accuracy points: from 0 to 100, or null where the file's own applies."""
    if points is None or 0 <= float(points) <= 100:
        return []
    return [f"{where}: must be a number of accuracy points from 0 to 100, got {points!r}"]


def diagnoses_problems(path: Path) -> list[str]:
    """Every problem of the diagnoses file at `path`, one line each (none: the file can be used)."""
    node, problems = typed_rule_file(path, DiagnosesFile, "a `modes:` list")
    if node is None:
        return problems
    name = Path(path).name
    bar = node.get("healthy_bar")
    if not problems and isinstance(bar, dict):
        problems += points_problems(f"{name}.healthy_bar.within_pts", bar.get("within_pts"))
    for i, clause in enumerate(listed(node.get("repaired"))):
        problems += clause_problems(f"{name}.repaired[{i}]", clause)
    for i, mode in enumerate(listed(node.get("modes"))):
        where = f"{name}.modes[{i}]" + (f" ({mode.get('name')})" if isinstance(mode, dict) else "")
        mode, found = typed_block(where, Mode, mode)
        problems += found
        if found:
            continue
        problems += points_problems(f"{where}.within_pts", mode["within_pts"])
        clauses = [(f"{part}[{j}]", c) for part in ("all", "any") for j, c in enumerate(mode[part] or [])]
        for at, clause in clauses:
            problems += clause_problems(f"{where}.{at}", clause)
    return problems


def listed(value: Any) -> list:
    """A list's items; nothing for anything else (the file's schema has said what is wrong with it)."""
    return value if isinstance(value, list) else []
