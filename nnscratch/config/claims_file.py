"""The schema of a claims file (conf/claims*.yaml): every key of the file, each claim and each check
typed by OmegaConf against the dataclasses below, before any run.

A misspelled key is a silent default otherwise (`measur: test_acc` would leave the check on its
default measure), and an unquoted comma inside a YAML flow mapping quietly cuts a title in two
(`{title: Hidden 10 on 60,000 images}` reads as the title "Hidden 10 on 60" and a key "000 images").
`claims_problems(path)` returns each problem as one line naming the file, the claim, the key and the
fix, e.g.

    claims.yaml: claims[2] (dead_units) checks[0]: unknown key 'measur' (did you mean 'measure'?) ...

What a type cannot say is checked here by name: a check's `kind` and `op`, and the keys each kind
needs (a threshold its `select`, a contrast its `a` and `b`, a reach its `within`); `sequential.futility`
and `sequential.spending`, a mapping typed by its schema or a bare value checked by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import MISSING

from nnscratch.config.schema import nearest, typed_block

KINDS = {"threshold": ["select"], "contrast": ["a", "b"], "reach": ["select", "within"]}
OPS = ("<=", ">=", "<", ">")
SPENDINGS = ("pocock", "obrien_fleming")


@dataclass
class Sequential:
    """The exact binomial design (nnscratch.claims.design): the seed counts a cell is judged at, and
    how each side's error is spent over them; or the older form first_look..max_seeds."""

    looks: list[int] | None = None
    spending: Any = None  # a PowerSpending, or one of SPENDINGS
    first_look: int | None = None
    max_seeds: int | None = None
    futility: Any = None  # a Futility, a bare chance (its `below`), or null: none


@dataclass
class Futility:
    """A non-binding futility stop: a cell stops getting seeds at a look where even a true effect of `effect`
    sds would be decided by the last look with a chance below `below` (nnscratch.claims.design)."""

    below: float | None = None
    effect: float = 1.4


@dataclass
class PowerSpending:
    """`spending: {power: rho}`: each side's error by look n at most alpha * (n / last look)^rho."""

    power: float = MISSING


@dataclass
class Check:
    what: str = MISSING
    kind: str = MISSING  # threshold | contrast | reach
    measure: str = MISSING  # an expression over a run's columns (a contrast's b side as b.<column>)
    value: Any = MISSING  # a number, or an expression over the run's columns (e.g. collapse)
    op: str = ">="
    select: dict[str, Any] | None = None
    a: dict[str, Any] | None = None
    b: dict[str, Any] | None = None
    at: int | None = None  # read the measure from the history at this iteration
    within: int | None = None  # reach: iterations
    rate: float | None = None  # the share of seeds the check is about (default: more than half)
    seed_independent: Any = None  # true, or {axis: value}


@dataclass
class Claim:
    id: str = MISSING
    title: str = MISSING
    checks: list[Any] = MISSING  # each a Check (typed one by one, to name the check in a problem)
    log: str | None = None  # the learning log's words
    failure: str | None = None  # a remedies file's row, column and failing cell
    remedy: str | None = None
    failing: dict[str, Any] | None = None


@dataclass
class ClaimsFile:
    title: str = ""
    confidence: float = 0.95
    sequential: Sequential | None = None
    collapse: Any = None  # an expression: the accuracy a collapsed run ends at or below
    subsets: dict[str, dict[str, int]] | None = None  # {dataset: {the log's subset: its equivalent}}
    anchors: dict[str, Any] | None = None  # YAML anchors the claims reuse (&name ... *name); read by nothing
    claims: list[Any] = field(default_factory=list)  # each a Claim


def check_problems(where: str, check: Any) -> list[str]:
    """One check's problems: its keys and types, then its kind, op and the keys its kind needs."""
    _, problems = typed_block(where, Check, check)
    if problems:
        return problems
    kind, op = check["kind"], check.get("op", ">=")
    if kind not in KINDS:
        return [f"{where}.kind: unknown kind '{kind}'{nearest(kind, list(KINDS))} (allowed: {', '.join(KINDS)})"]
    if op not in OPS:
        problems.append(f"{where}.op: unknown op '{op}' (allowed: {', '.join(OPS)})")
    missing = [key for key in KINDS[kind] if check.get(key) is None]
    return problems + [f"{where}: a {kind} check needs '{key}'" for key in missing]


def futility_problems(where: str, futility: Any) -> list[str]:
    """`sequential.futility`: a mapping typed by Futility, a bare chance (its `below`), or null."""
    if isinstance(futility, dict):
        futility, problems = typed_block(where, Futility, futility)
        if problems:
            return problems
        if futility["effect"] <= 0:
            return [f"{where}.effect: must be a positive number of sds, got {futility['effect']!r}"]
        where, futility = f"{where}.below", futility["below"]
    elif futility is not None and (isinstance(futility, bool) or not isinstance(futility, int | float)):
        return [f"{where}: must be {{below: 0.1, effect: 1.4}}, a chance such as 0.1, or null; got {futility!r}"]
    if futility is not None and not 0 < futility < 1:
        return [f"{where}: must be a chance between 0 and 1, got {futility!r}"]
    return []


def spending_problems(where: str, spending: Any) -> list[str]:
    """`sequential.spending`: a mapping typed by PowerSpending, or the name of one of SPENDINGS."""
    if isinstance(spending, dict):
        return typed_block(where, PowerSpending, spending)[1]
    if spending is None or spending in SPENDINGS:
        return []
    hint = nearest(str(spending), list(SPENDINGS))
    return [f"{where}: unknown {spending!r}{hint} (allowed: {', '.join(SPENDINGS)}, {{power: 0.5}})"]


def split_values(where: str, claim: Any) -> dict[str, str]:
    """{key: problem} for the keys an unquoted comma made: in a YAML flow mapping `{title: a, b}`, the
    part after the comma becomes a key of its own with no value."""
    if not isinstance(claim, dict):
        return {}
    names = {f.name for f in dataclasses.fields(Claim)}
    return {
        key: f"{where}: '{key}' is the end of a value an unquoted comma cut off; quote that value "
        f'(e.g. title: "... 60,000 images")'
        for key, value in claim.items()
        if value is None and key not in names
    }


def typed_rule_file(path: Path, schema: type, needs: str) -> tuple[dict | None, list[str]]:
    """A rule file (a claims file, conf/diagnoses.yaml) read as YAML and its top-level keys typed by `schema`:
    (its mapping, problems), or (None, [one line why it cannot be read]); `needs` names what the mapping
    must hold, e.g. "a `claims:` list"."""
    try:
        node = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        return None, [f"{path}: cannot be read as YAML ({type(err).__name__}: {str(err).splitlines()[0]})"]
    if not isinstance(node, dict):
        return None, [f"{path}: must be a mapping with {needs}, got {type(node).__name__}"]
    return node, typed_block(Path(path).name, schema, node)[1]


def claims_problems(path: Path) -> list[str]:
    """Every problem of the claims file at `path`, one line each (none: the file can be used)."""
    node, problems = typed_rule_file(path, ClaimsFile, "a `claims:` list")
    if node is None:
        return problems
    name = Path(path).name
    sequential = node.get("sequential") if not problems else None  # typed: a mapping or null
    if sequential:
        problems += futility_problems(f"{name}.sequential.futility", sequential.get("futility"))
        problems += spending_problems(f"{name}.sequential.spending", sequential.get("spending"))
    seen: set[str] = set()
    for i, claim in enumerate(node.get("claims") or []):
        where = f"{name}: claims[{i}]" + (f" ({claim.get('id')})" if isinstance(claim, dict) else "")
        cut = split_values(where, claim)
        _, found = typed_block(where, Claim, {k: v for k, v in claim.items() if k not in cut} if cut else claim)
        problems += list(cut.values()) + found
        if found:
            continue
        if claim["id"] in seen:
            problems.append(f"{where}: id '{claim['id']}' is used twice; give each claim its own id")
        seen.add(claim["id"])
        checks = claim["checks"] if isinstance(claim["checks"], list) else []
        if not checks:
            problems.append(f"{where}.checks: must list at least one check")
        for j, check in enumerate(checks):
            problems += check_problems(f"{where} checks[{j}]", check)
    return problems
