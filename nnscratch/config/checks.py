"""The checks of a run config that its schema (schema.py) cannot say: ranges, allowed names, sizes
against the dataset, per-layer lists against the depth. They run before any work.

The resolved config of ``conf/train.yaml`` as a dict is all a run needs:

    {"data": {...}, "model": {"hidden": [10], ...}, "weights": {...}, "biases": {...},
     "train": {...}, "seed": 0, "fault": None}

Types and unknown keys are the schema's (OmegaConf's) business: `validate` runs it first and the
checks here only on a config whose types are right.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nnscratch import datasets
from nnscratch.data import SCALINGS, SUBSET_METHODS
from nnscratch.network import BIAS_INITS, WEIGHT_INITS
from nnscratch.networks.loading import network_problems

if TYPE_CHECKING:
    from nnscratch.config.schema import Parallel

FAULTS = (None, "raise", "kill")
BACKENDS = ("loky", "dask")
DTYPES = ("float32", "float64")


class ConfigError(ValueError):
    """One or more configuration values are invalid; the message lists every problem, one a line."""


def outside(key: str, value: float | None, low: float, high: float = math.inf, low_open: bool = False) -> list[str]:
    """["key: must be ... got value"] unless low <= value < high (low < value with low_open)."""
    if value is None or (low < value if low_open else low <= value) and value < high and math.isfinite(value):
        return []
    bounds = f"> {low}" if low_open else f">= {low}"
    bounds += f" and < {high}" if high != math.inf else ""
    return [f"{key}: must be {bounds}, got {value!r}"]


def unknown_name(key: str, value: object, allowed: tuple | dict) -> list[str]:
    names = ", ".join("null" if a is None else str(a) for a in allowed)
    return [] if value in allowed else [f"{key}: unknown '{value}' (allowed: {names})"]


def init_problems(key: str, init: dict, table: dict, n_layers: int) -> list[str]:
    """A weights/biases block against the network's depth: per_layer has one known scheme per layer."""
    per_layer = init.get("per_layer")
    if per_layer is None:
        return outside(f"{key}.std", init.get("std"), 0)
    if len(per_layer) != n_layers:
        return [f"{key}.per_layer: has {len(per_layer)} entries, the network has {n_layers} layers"]
    problems = outside(f"{key}.std", init.get("std"), 0)
    for i, layer in enumerate(per_layer):
        problems += layer_problems(f"{key}.per_layer[{i}]", layer, table)
    return problems


def layer_problems(where: str, layer: str | dict, table: dict) -> list[str]:
    """One per_layer entry: a scheme's name, or a mapping typed by LayerInit whose std only normal reads."""
    # imported here: the schema imports Hydra, which a worker (ConfigError only) does without
    from nnscratch.config.schema import LayerInit, typed_block

    if not isinstance(layer, dict):
        return unknown_name(where, layer, tuple(table))
    _, problems = typed_block(where, LayerInit, layer)
    if problems:
        return problems
    problems = unknown_name(f"{where}.scheme", layer["scheme"], tuple(table))
    if "std" in layer and layer["scheme"] != "normal":
        return problems + [
            f"{where}: 'std' means nothing to scheme '{layer['scheme']}' (only normal reads it); remove it"
        ]
    if "std" in layer and layer["std"] is None:
        return [f"{where}.std: must be a number (leave it out for the block's std)"]
    return problems + outside(f"{where}.std", layer.get("std"), 0)


def check_data(data: dict) -> list[str]:
    problems = datasets.problems(data)
    if problems:
        return problems
    n_train = data["catalogue"]["n_train"]
    problems += unknown_name("data.scaling", data["scaling"], SCALINGS)
    problems += unknown_name("data.subset_method", data["subset_method"], SUBSET_METHODS)
    if data["subset"] is not None and not 1 <= data["subset"] <= n_train:
        problems.append(
            f"data.subset: {data['subset']} is not a sample count from 1 to {n_train} ({data['name']} has "
            f"{n_train} training images; null = all)"
        )
    return problems


def check_model(model: dict) -> list[str]:
    hidden = model["hidden"]
    if not hidden or min(hidden) < 1:
        return [f"model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got {hidden!r}"]
    return unknown_name("model.dtype", model["dtype"], DTYPES)


def check_train(train: dict) -> list[str]:
    problems = outside("train.lr", train["lr"], 0, low_open=True)
    for key in ("iterations", "eval_every", "blas_threads", "batch_size"):
        problems += outside(f"train.{key}", train[key], 1)
    return problems + outside("train.collapse_margin", train["collapse_margin"], 0, 1)


def check_rates(cfg: dict) -> list[str]:
    """Settings of the activation and the optimizer that are fractions, and Adam's eps."""
    act, opt = cfg.get("activation", {}), cfg.get("optimizer", {})
    problems = outside("activation.slope", act.get("slope"), 0, 1)
    for key in ("beta", "beta1", "beta2"):
        problems += outside(f"optimizer.{key}", opt.get(key), 0, 1)
    return problems + outside("optimizer.eps", opt.get("eps"), 0, low_open=True)


def validate(cfg: dict) -> list[str]:
    """Every problem with a run config, one line each: 'key: what is wrong (what is allowed)'."""
    # imported here: the schema imports Hydra, which a worker (ConfigError only) does without
    from nnscratch.config.schema import typed

    _, problems = typed(cfg)
    if problems:  # the checks below read values of the right types
        return problems
    problems = check_data(cfg["data"]) + check_model(cfg["model"])
    n_layers = len(cfg["model"]["hidden"]) + 1
    problems += init_problems("weights", cfg["weights"], WEIGHT_INITS, n_layers)
    problems += init_problems("biases", cfg["biases"], BIAS_INITS, n_layers)
    problems += check_train(cfg["train"]) + check_rates(cfg) + network_problems(cfg)
    return problems + unknown_name("fault", cfg.get("fault"), FAULTS)


def parallel_settings(parallel: Parallel | dict) -> Parallel:
    """The `parallel` block as a Parallel, or ConfigError naming each setting that cannot work."""
    # imported here: the schema imports Hydra, which a worker (ConfigError only) does without
    from nnscratch.config.schema import Parallel, as_object, typed_block

    if isinstance(parallel, dict):
        node, problems = typed_block("parallel", Parallel, parallel)
        if problems:
            raise ConfigError("\n".join(problems))
        parallel = as_object(Parallel, node)
    problems = unknown_name("parallel.backend", parallel.backend, BACKENDS)
    problems += outside("parallel.n_jobs", parallel.n_jobs, 1)
    problems += outside("parallel.stack_tasks", parallel.stack_tasks, 1)
    problems += outside("parallel.stack_rows", parallel.stack_rows, 0)
    problems += outside("parallel.checkpoint_every", parallel.checkpoint_every, 0)
    if problems:
        raise ConfigError("\n".join(problems))
    return parallel


def sweep_settings(settings: dict, choices: dict) -> dict:
    """conf/sweep.yaml composed (a dict), typed by its schemas; ConfigError naming every problem. The
    run keys in it are the base of every cell, which the grid checks in full."""
    # imported here: the schema imports Hydra, which a worker (ConfigError only) does without
    from nnscratch.config.schema import SweepSettings, typed

    settings, problems = typed(settings, [g for g in choices if "/" not in g], root=SweepSettings)
    if problems:
        raise ConfigError("\n".join(problems))
    parallel_settings(settings["parallel"])
    return settings


def check(cfg: dict) -> None:
    """Raise ConfigError listing every problem, or return quietly."""
    problems = validate(cfg)
    if problems:
        raise ConfigError("\n".join(problems))
