"""A run's configuration as plain Python values, and the checks that run before any work.

The resolved Hydra config of ``conf/train.yaml`` turned into a dict is all a run needs:

    {"data": {...}, "model": {"hidden": [10], ...}, "weights": {...}, "biases": {...},
     "train": {...}, "seed": 0, "fault": None}

Nothing here imports Hydra: the library stays usable and testable without it.
"""

from __future__ import annotations

import math
from typing import Any

from nnscratch import datasets
from nnscratch.data import SCALINGS, SUBSET_METHODS
from nnscratch.network import ACTIVATIONS, BIAS_INITS, WEIGHT_INITS, layer_inits
from nnscratch.networks.loading import network_problems
from nnscratch.optimizers import OPTIMIZERS

FAULTS = (None, "raise", "kill")
DTYPES = ("float32", "float64")


class ConfigError(ValueError):
    """One or more configuration values are invalid; the message lists every problem."""


def check_init(key: str, init: dict, table: dict, n_layers: int) -> list[str]:
    """Problems with one weights/biases block."""
    problems = []
    per_layer = init.get("per_layer")
    if per_layer is not None and len(per_layer) != n_layers:
        problems.append(f"{key}.per_layer: has {len(per_layer)} entries, the network has {n_layers} layers")
        return problems
    for i, layer in enumerate(layer_inits(init, n_layers) if init.get("scheme") or per_layer else []):
        where = f"{key}.per_layer[{i}]" if per_layer else f"{key}.scheme"
        if layer.scheme not in table:
            problems.append(f"{where}: unknown scheme '{layer.scheme}' (allowed: {', '.join(table)})")
        if not (math.isfinite(layer.std) and layer.std >= 0):
            problems.append(f"{where}: std must be a finite number >= 0, got {layer.std}")
    if not init.get("scheme") and not per_layer:
        problems.append(f"{key}.scheme: missing (allowed: {', '.join(table)})")
    return problems


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_data(data: dict) -> list[str]:
    name = data.get("name")
    if not (isinstance(name, str) and name):
        return [f"data.name: must name the dataset (a file of conf/data/), got {name!r}"]
    problems = datasets.problems(data)
    if problems:
        return problems
    n_train = data["catalogue"]["n_train"]
    subset = data.get("subset")
    if subset is not None and not (is_int(subset) and 1 <= subset <= n_train):
        problems.append(
            f"data.subset: {subset!r} is not a sample count from 1 to {n_train} ({name} has "
            f"{n_train} training images; null = all)"
        )
    if data.get("scaling") not in SCALINGS:
        problems.append(f"data.scaling: unknown '{data.get('scaling')}' (allowed: {', '.join(SCALINGS)})")
    if data.get("subset_method", "first") not in SUBSET_METHODS:
        problems.append(
            f"data.subset_method: unknown '{data.get('subset_method')}' (allowed: {', '.join(SUBSET_METHODS)})"
        )
    return problems


def check_train(train: dict) -> list[str]:
    problems = []
    lr = train.get("lr")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        problems.append(f"train.lr: must be a number > 0, got {lr!r}")
    for key in ("iterations", "eval_every", "blas_threads"):
        if not (is_int(train.get(key)) and train[key] >= 1):
            problems.append(f"train.{key}: must be a whole number >= 1, got {train.get(key)!r}")
    batch = train.get("batch_size")
    if batch is not None and not (is_int(batch) and batch >= 1):
        problems.append(f"train.batch_size: must be null (full batch) or a whole number >= 1, got {batch!r}")
    if not isinstance(train.get("skip_dead", True), bool):
        problems.append(f"train.skip_dead: must be true or false, got {train.get('skip_dead')!r}")
    margin = train.get("collapse_margin")
    if not (isinstance(margin, int | float) and 0 <= margin < 1):
        problems.append(f"train.collapse_margin: must be a number in [0, 1), got {margin!r}")
    return problems


def is_number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value < high


def check_activation(act: dict) -> list[str]:
    if act.get("name") not in ACTIVATIONS:
        return [f"activation.name: unknown '{act.get('name')}' (allowed: {', '.join(ACTIVATIONS)})"]
    if act["name"] == "leaky_relu" and not is_number(act.get("slope"), 0, 1):
        return [f"activation.slope: must be a number in [0, 1), got {act.get('slope')!r}"]
    return []


def check_optimizer(opt: dict) -> list[str]:
    if opt.get("name") not in OPTIMIZERS:
        return [f"optimizer.name: unknown '{opt.get('name')}' (allowed: {', '.join(OPTIMIZERS)})"]
    problems = [
        f"optimizer.{key}: must be a number in [0, 1), got {opt.get(key)!r}"
        for key in {"momentum": ("beta",), "adam": ("beta1", "beta2")}.get(opt["name"], ())
        if not is_number(opt.get(key), 0, 1)
    ]
    if opt["name"] == "adam" and not is_number(opt.get("eps"), 1e-30, math.inf):
        problems.append(f"optimizer.eps: must be a number > 0, got {opt.get('eps')!r}")
    return problems


def validate(cfg: dict) -> list[str]:
    """Every problem with a run config, as 'key: what is wrong (allowed values)' lines."""
    problems = check_data(cfg.get("data", {}))
    hidden = cfg.get("model", {}).get("hidden")
    if not (isinstance(hidden, list | tuple) and all(is_int(h) and h >= 1 for h in hidden)):
        problems.append(f"model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got {hidden!r}")
        n_layers = 1
    else:
        n_layers = len(hidden) + 1
    if cfg.get("model", {}).get("dtype", "float32") not in DTYPES:
        problems.append(f"model.dtype: unknown '{cfg['model']['dtype']}' (allowed: {', '.join(DTYPES)})")
    if cfg.get("weights", {}).get("scheme") != "user":  # the user's own init_params (network_problems)
        problems += check_init("weights", cfg.get("weights", {}), WEIGHT_INITS, n_layers)
    problems += network_problems(cfg)
    problems += check_init("biases", cfg.get("biases", {}), BIAS_INITS, n_layers)
    problems += check_activation(cfg.get("activation", {"name": "relu"}))
    problems += check_optimizer(cfg.get("optimizer", {"name": "gd"}))
    problems += check_train(cfg.get("train", {}))
    if not is_int(cfg.get("seed")):
        problems.append(f"seed: must be a whole number, got {cfg.get('seed')!r}")
    if cfg.get("fault") not in FAULTS:
        problems.append(f"fault: unknown '{cfg.get('fault')}' (allowed: null, raise, kill)")
    return problems


def check(cfg: dict) -> None:
    """Raise ConfigError listing every problem, or return quietly."""
    problems = validate(cfg)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
