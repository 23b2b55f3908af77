"""The schema of every config file: dataclasses, registered in Hydra's ConfigStore (group
`schema/<group>`, one per option kind), against which a composed config is typed before any work.

A group's option picks its schema by one key (`weights.scheme`, `optimizer.name`, ...), so each option
accepts only the keys that mean something to it: `std` on `scheme: normal`, not on `uniform`. A new
option file of an existing kind is YAML only; a new kind is a dataclass (the run's groups' are in
nnscratch/run_config.py, the sweep's here; or anywhere, stored as
`ConfigStore.instance().store(group="schema/<group>", name=<kind>, node=<dataclass>)`). A group with
no schema (a user's new folder of conf/) is taken as it is.

`typed(config, groups)` is the one door: it returns the config with its values converted by OmegaConf
(`train.lr=1` is 1.0) and every problem as one line naming the key and the fix, e.g.

    weights: unknown key 'sd' (did you mean 'std'?)

Range checks and cross-field checks a type cannot say are in checks.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnscratch.run_config import RUN_GROUPS, reads_std

# ---------------------------------------------------------------- the run's top-level keys (its groups' schemas:
# nnscratch/run_config.py, the objects the trainer receives)


@dataclass
class Repair:
    enabled: bool = False
    max_tries: int = 4
    iterations: int | None = None  # null = the run's own iterations


@dataclass
class RunSettings:
    """The top-level keys of a run (conf/run.yaml, read by train.yaml and sweep.yaml) besides its groups."""

    seed: int = 0
    fault: str | None = None  # null | raise | kill: fault injection for the sweep's own tests
    repair: Repair | None = None


@dataclass
class SingleRunSettings(RunSettings):
    """The top-level keys of conf/train.yaml besides its groups: a run and where it is written."""

    out_dir: str | None = None


# ---------------------------------------------------------------- the sweep's groups


@dataclass
class Parallel:
    """conf/parallel/*.yaml: where and how the runs of a sweep run (the defaults: one run per task, no
    checkpoints; conf/parallel/ sets its own)."""

    backend: str = "loky"
    n_jobs: int | None = None
    scheduler: str | None = None
    stack_rows: int = 0
    stack_tasks: int = 1
    checkpoint_every: float = 0
    # null, or {ca_file, cert_file, key_file} (nnscratch.run.dask.tls_problems checks its keys and files).
    # Untyped: OmegaConf cannot merge a command line's `parallel.tls={...}` into a typed block that is null.
    tls: Any = None


@dataclass
class NoLoggerSettings:
    name: str = "none"


@dataclass
class MlflowSettings(NoLoggerSettings):
    tracking_uri: str = "sqlite:///outputs/mlflow.db"
    experiment: str | None = None
    artifact_root: str | None = None
    timeout: int = 5
    retries: int = 0
    sqlite_wal: bool = True
    bulk_workers: int = 1


@dataclass
class Grid:
    """conf/sweep/<grid>.yaml: products of axes (any run key: a group's option or a dotted value)."""

    name: str = MISSING
    axes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] | None = None
    claims: str | None = None


@dataclass
class Adaptive:
    enabled: bool = True
    max_seeds: int = 10
    claims: str | None = None
    overlap: bool = True  # a cell's next round starts when the cells it is judged with are in (nnscratch.run.overlap)


@dataclass
class SweepSettings(RunSettings):
    """The top-level keys of conf/sweep.yaml besides its groups."""

    out_root: str = "outputs"
    resume: str | None = None
    report: bool = True
    adaptive: Adaptive = field(default_factory=Adaptive)


# group -> (the key naming the option's kind or None, {kind: schema}); None: one schema for every option
GROUPS: dict[str, tuple[str | None, dict[str, type]]] = RUN_GROUPS | {
    "parallel": (None, {"base": Parallel}),
    "logger": ("name", {"none": NoLoggerSettings, "mlflow": MlflowSettings}),
    "sweep": (None, {"base": Grid}),
}
for _group, (_, _kinds) in GROUPS.items():
    for _kind, _node in _kinds.items():
        ConfigStore.instance().store(group=f"schema/{_group}", name=_kind, node=_node)
ConfigStore.instance().store(name="schema_run", node=RunSettings)
ConfigStore.instance().store(name="schema_sweep", node=SweepSettings)


# ---------------------------------------------------------------- typing a composed config


def nearest(key: str, allowed: list[str]) -> str:
    """ " (did you mean 'x'?)" for the closest allowed name, or ""."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def schema_keys(group: str) -> list[str]:
    """Every key some option of `group` reads (all of its schemas'), in order; [] for no schema."""
    kinds = GROUPS.get(group, (None, {}))[1].values()
    return list(dict.fromkeys(f.name for kind in kinds for f in dataclasses.fields(kind)))


def top_keys(config_name: str) -> list[str]:
    """The keys of conf/<config_name>.yaml (train or sweep) that are not config groups."""
    return [f.name for f in dataclasses.fields(SweepSettings if config_name == "sweep" else SingleRunSettings)]


def schema_of(group: str, node: dict) -> tuple[type | None, str | None]:
    """(the schema of a group's block, or None; the problem if its kind is unknown)."""
    repo = ConfigStore.instance().repo.get("schema", {}).get(group)
    if repo is None:
        return None, None  # a group without a schema: taken as it is
    kinds = {name.removesuffix(".yaml"): entry.node for name, entry in repo.items()}
    key = GROUPS.get(group, (None, {}))[0]
    if key is None:
        return OmegaConf.get_type(next(iter(kinds.values()))), None
    kind = node.get(key)
    if kind not in kinds:
        hint = nearest(str(kind), list(kinds))
        return None, f"{group}.{key}: unknown {key} {kind!r}{hint} (allowed: {', '.join(kinds)})"
    if key == "scheme" and "normal" in kinds and reads_std(node):
        kind = "normal"
    return OmegaConf.get_type(kinds[kind]), None


def annotation_of(schema: type, path: str) -> Any:
    """The type of dotted key `path` of a schema, e.g. (RunSettings, "repair.enabled") -> bool."""
    kind: Any = schema
    for part in path.split("."):
        kind = typing.get_type_hints(kind).get(part) if dataclasses.is_dataclass(kind) else None
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = inner[0] if len(inner) == 1 and dataclasses.is_dataclass(inner[0]) else kind
    return kind


def type_name(kind: Any) -> str:
    """How a type reads in an error: int -> "a whole number", int | None -> "a whole number or null"."""
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "a string", dict: "a mapping"}
    inner = [a for a in typing.get_args(kind) if a is not type(None)]
    if type(None) in typing.get_args(kind) and len(inner) == 1:
        return f"{type_name(inner[0])} or null"
    if typing.get_origin(kind) is list:
        return f"a list of {type_name(typing.get_args(kind)[0]).removeprefix('a ')}s"
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def typed_block(where: str, schema: type, node: Any) -> tuple[Any, list[str]]:
    """(node with values converted to its schema's types, problems): unknown keys by name, wrong types."""
    if not isinstance(node, dict):
        return node, [f"{where}: must be a mapping of {schema.__name__} keys, got {node!r}"]
    node = {k: v for k, v in node.items() if k != "defaults"}  # a file read as YAML, not composed by Hydra
    names = [f.name for f in dataclasses.fields(schema)]
    kind = next((f"{k} '{node[k]}'" for k in ("scheme", "name") if k in names and k in node), None)
    problems = [unknown_key(where, key, schema, kind) for key in node if key not in names]
    for name, inner in nested_schemas(schema).items():  # e.g. parallel.tls, network.functions
        if isinstance(node.get(name), dict):
            problems += typed_block(f"{where}.{name}", inner, node[name])[1]
    if problems:
        return node, problems
    return converted(where, schema, json.dumps(node))


def nested_schemas(schema: type) -> dict[str, type]:
    """The fields of `schema` that are blocks of a schema of their own (Optional or not)."""
    hints = typing.get_type_hints(schema)
    out = {}
    for name, hint in hints.items():
        inner = [a for a in (typing.get_args(hint) or (hint,)) if dataclasses.is_dataclass(a)]
        if inner:
            out[name] = inner[0]
    return out


def unknown_key(where: str, key: str, schema: type, kind: str | None = None) -> str:
    """The line refusing `key` in a block of `schema`: one another option of its group reads, or none."""
    names = [f.name for f in dataclasses.fields(schema)]
    others = [f.name for s in related(schema) for f in dataclasses.fields(s)]
    if key in others:
        option = kind or f"this {where} option ({schema.__name__})"
        return f"{where}: '{key}' means nothing to {option} (its keys: {', '.join(names)}); remove it"
    return f"{where}: unknown key '{key}'{nearest(key, names) or nearest(key, others)} (keys: {', '.join(names)})"


def related(schema: type) -> list[type]:
    """The other schemas of the group `schema` belongs to."""
    return [s for _, kinds in GROUPS.values() if schema in kinds.values() for s in kinds.values()]


@lru_cache(maxsize=4096)
def converted(where: str, schema: type, node_json: str) -> tuple[Any, list[str]]:
    """OmegaConf's conversion of one block (cached: the cells of a grid share most blocks)."""
    node = json.loads(node_json)
    try:
        merged = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(schema), node), throw_on_missing=True)
    except OmegaConfBaseException as err:
        key = ".".join(k for k in (where, str(err.full_key or "")) if k)
        annotation = annotation_of(schema, str(err.full_key)) if err.full_key else None
        if "Missing mandatory value" in str(err):
            return node, [f"{key}: missing (give it in the file or as {key}=...)"]
        if annotation is None:
            return node, [f"{key}: {str(err).splitlines()[0]}"]
        got = OmegaConf.select(OmegaConf.create(node), str(err.full_key))
        return node, [f"{key}: must be {type_name(annotation)}, got {got!r}"]
    return {k: merged[k] for k in node} | {k: v for k, v in merged.items() if k not in node}, []


def as_object(schema: type, node: dict) -> Any:
    """A block as its dataclass (the library takes objects, not dicts): one `typed_block` found no
    problem with."""
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))


def typed(config: dict, groups: list[str] | None = None, root: type = RunSettings) -> tuple[dict, list[str]]:
    """(config typed by the schemas, every problem as one line). `groups` are the config groups its
    defaults list read (Hydra's choices), which may include groups without a schema; with None, keys
    outside the schemas are not questioned (a config already composed and typed once)."""
    out, problems = {}, []
    top = [f.name for f in dataclasses.fields(root)]
    for key, node in config.items():
        out[key] = node
        if groups is not None and key not in top and key not in groups:
            problems.append(f"unknown key '{key}'{nearest(key, top + groups)}: not in the schema nor a config group")
            continue
        schema, problem = schema_of(key, node) if key in GROUPS and isinstance(node, dict) else (None, None)
        problems += [problem] if problem else []
        if schema is not None:
            out[key], found = typed_block(key, schema, node)
            problems += found
    scalars = {k: v for k, v in out.items() if k in top}
    if scalars:
        values, found = converted("", root, json.dumps(scalars))
        problems += found
        out |= {k: values[k] for k in scalars}  # a block the config lacks stays out (repair: its owner's)
    return out, problems


# ---------------------------------------------------------------- blocks inside a group's block


@dataclass
class LayerInit:
    """One entry of `weights.per_layer` / `biases.per_layer` given as a mapping (nnscratch.network.layer_inits):
    a scheme, and for normal its std (left out: the block's std)."""

    scheme: str = MISSING
    std: float | None = None
