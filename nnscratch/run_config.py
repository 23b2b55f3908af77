"""A run's configuration as objects: one dataclass per kind of option of each of the run's groups
(data, model, weights, biases, activation, optimizer, train, network), and `RunConfig`, the whole run,
which is what the trainer receives (`cfg.train.lr`, `cfg.weights.scheme`).

These are the schemas' dataclasses: nnscratch.config.schema registers them in Hydra's ConfigStore and
types every composed config against them. This module imports neither Hydra nor OmegaConf, so the
trainer (nnscratch.train, nnscratch.networks) takes them without either.

On disk a run's config stays plain data (run.json's `config`, whose hash is the run id):
`run_config(config)` reads such a dict, composed and typed by nnscratch.config or read back from a
record, into its object, and `plain_config(cfg)` gives the dict back, equal to the one it came from.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

MISSING: Any = "???"  # OmegaConf's mark of a value a config must give (omegaconf.MISSING)

# ---------------------------------------------------------------- the run's groups


@dataclass
class DataConfig:
    """conf/data/<name>.yaml: which dataset, which part of it, how scaled; `catalogue` is checked by
    nnscratch.datasets (its keys depend on its format)."""

    name: str = MISSING
    dir: str | None = None
    subset: int | None = None
    subset_method: str = "first"
    subset_seed: int = 0
    scaling: str = "unit"
    mirrors: list[str] | None = None
    catalogue: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    hidden: list[int] = field(default_factory=lambda: [10])
    dtype: str = "float32"


@dataclass
class InitConfig:
    """weights or biases with a scheme that has no setting (zeros, uniform, he, xavier)."""

    scheme: str = MISSING
    per_layer: list[Any] | None = None  # a scheme per layer: a name, or {scheme, std}


@dataclass
class NormalInitConfig(InitConfig):
    """N(0, std^2): the only scheme that reads std."""

    std: float = 1.0


@dataclass
class ActivationConfig:
    name: str = "relu"


@dataclass
class LeakyReluConfig(ActivationConfig):
    slope: float = 0.01


@dataclass
class OptimizerConfig:
    name: str = "gd"


@dataclass
class MomentumConfig(OptimizerConfig):
    beta: float = 0.9


@dataclass
class AdamConfig(OptimizerConfig):
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1.0e-8


@dataclass
class TrainConfig:
    lr: float = 0.1
    iterations: int = 500
    batch_size: int | None = None
    eval_every: int = 10
    collapse_margin: float = 0.1
    blas_threads: int = 1
    skip_dead: bool = True


@dataclass
class BuiltinNetwork:
    name: str = "builtin"


@dataclass
class NetworkFunctions:
    init: str = "init_params"
    forward: str = "forward_prop"
    backward: str = "backward_prop"
    update: str = "update_params"
    train: str = "gradient_descent"


@dataclass
class NotebookNetwork(BuiltinNetwork):
    """A user's network written in the tutorial's style (conf/network/notebook.yaml)."""

    source: str | None = None  # path to a .py
    style: str = "tutorial"
    functions: NetworkFunctions = field(default_factory=NetworkFunctions)
    call_timeout: float = 60
    import_timeout: float = 10


# group -> (the key naming the option's kind or None, {kind: its dataclass}); None: one for every option
RUN_GROUPS: dict[str, tuple[str | None, dict[str, type]]] = {
    "data": (None, {"base": DataConfig}),
    "model": (None, {"base": ModelConfig}),
    "weights": (
        "scheme",
        {
            "zeros": InitConfig,
            "uniform": InitConfig,
            "he": InitConfig,
            "xavier": InitConfig,
            "normal": NormalInitConfig,
            "user": InitConfig,
        },
    ),
    "biases": ("scheme", {"zeros": InitConfig, "normal": NormalInitConfig}),
    "activation": (
        "name",
        {
            "relu": ActivationConfig,
            "leaky_relu": LeakyReluConfig,
            "tanh": ActivationConfig,
            "sigmoid": ActivationConfig,
        },
    ),
    "optimizer": ("name", {"gd": OptimizerConfig, "momentum": MomentumConfig, "adam": AdamConfig}),
    "train": (None, {"base": TrainConfig}),
    "network": ("name", {"builtin": BuiltinNetwork, "notebook": NotebookNetwork}),
}


# ---------------------------------------------------------------- the whole run


@dataclass
class RunConfig:
    """One run: its groups' blocks as the dataclasses of their options, its seed, and a user's own
    groups without a schema (a new folder of conf/), as they are, in `groups`."""

    data: DataConfig
    weights: InitConfig
    biases: InitConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    activation: ActivationConfig = field(default_factory=ActivationConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    network: BuiltinNetwork = field(default_factory=BuiltinNetwork)
    seed: int = 0
    fault: str | None = None  # null | raise | kill: fault injection for the sweep's own tests
    groups: dict[str, Any] = field(default_factory=dict)


SCALARS = ("seed", "fault")


def run_config(config: dict | RunConfig) -> RunConfig:
    """The object of a run's plain config (typed by nnscratch.config.schema, or a run.json's `config`);
    an object as it is. Each group's block becomes the dataclass its kind key names (`weights.scheme:
    normal` -> NormalInitConfig); a kind registered elsewhere, a SimpleNamespace of its keys."""
    if isinstance(config, RunConfig):
        return config
    blocks = {group: block_of(group, node) for group, node in config.items() if group in RUN_GROUPS}
    scalars = {key: config[key] for key in SCALARS if key in config}
    groups = {key: node for key, node in config.items() if key not in blocks and key not in scalars}
    return RunConfig(**blocks, **scalars, groups=groups)


def block_of(group: str, node: dict) -> Any:
    """One group's block as the dataclass of its option's kind."""
    key, kinds = RUN_GROUPS[group]
    kind = "base" if key is None else node.get(key)
    if key == "scheme" and reads_std(node):
        kind = "normal"
    if kind not in kinds:
        return SimpleNamespace(**node)
    return dataclass_of(kinds[kind], node)


def reads_std(init: dict) -> bool:
    """Whether a weights or biases block has a normal layer in `per_layer`, which reads the block's std."""
    return any(layer == "normal" for layer in init.get("per_layer") or [])


def dataclass_of(schema: type, node: dict) -> Any:
    """`schema(**node)`, its nested blocks (network.functions) as their own dataclasses."""
    hints = typing.get_type_hints(schema)
    unknown = [name for name in node if name not in hints]
    if unknown:  # a typed config has none: a config made by hand, or a record of another version
        raise ValueError(f"{schema.__name__}: unknown key(s) {', '.join(unknown)} (keys: {', '.join(hints)})")
    values = {
        name: dataclass_of(hints[name], value) if dataclasses.is_dataclass(hints[name]) else value
        for name, value in node.items()
    }
    return schema(**values)


def plain_config(cfg: RunConfig) -> dict:
    """The plain config of a run's object: the dict `run_config` read it from (same keys, same values)."""
    blocks = {f.name: plain_block(getattr(cfg, f.name)) for f in dataclasses.fields(cfg) if f.name in RUN_GROUPS}
    return blocks | {key: getattr(cfg, key) for key in SCALARS} | cfg.groups


def plain_block(block: Any) -> dict:
    return dataclasses.asdict(block) if dataclasses.is_dataclass(block) else dict(vars(block))
