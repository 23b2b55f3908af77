"""Hydra's compose API, wrapped: a run's overrides -> its plain resolved config.

A sweep cell and ``python -m experiments.train <overrides>`` go through the same `compose_run`, so
they are the same run. Everything downstream gets plain dicts, never Hydra objects: a run spec's config
is plain data (what run.json records and the run id hashes), which the trainer reads into its object
(nnscratch.run_config.RunConfig).

A Hydra compose costs tens of milliseconds; a grid of 100,000 cells cannot pay that per cell. A
`Composer` composes once per distinct set of *structural* overrides (config groups, additions,
deletions, interpolations) and applies a cell's plain value overrides (`seed=3`, `model.hidden=[64]`,
`train.lr=1e-3`) to a copy of that resolved config, as Hydra would (values parsed by Hydra's own
override parser, an existing key replaced). Where that is not provably the same — the config holds
interpolations, a key is missing, a value is a mapping — it composes the cell in full.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from nnscratch.config.schema import annotation_of, nearest, schema_keys, top_keys, type_name, unknown_key
from nnscratch.paths import CONF_DIR

# ${nnscratch.or:${a},b}: a unless it is null, else b (conf/train.yaml: out_dir, else Hydra's folder)
OmegaConf.register_new_resolver(
    "nnscratch.or", lambda value, default: default if value is None else value, replace=True
)


def defaults_groups(config_name: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The config groups conf/<config_name>.yaml's defaults list reads, following the configs it
    includes (train.yaml and sweep.yaml both include run.yaml), in order."""
    defaults = yaml.safe_load((Path(conf_dir) / f"{config_name}.yaml").read_text()).get("defaults") or []
    groups = []
    for entry in defaults:
        if isinstance(entry, str) and entry != "_self_":
            groups += defaults_groups(entry, conf_dir)
        elif isinstance(entry, dict):
            groups += [k for k in entry if not k.startswith(("override ", "hydra"))]
    return groups


def groups_help(config_name: str) -> str:
    """`group: option, ...` for each config group that conf/<config_name>.yaml's defaults list reads:
    what --help shows (Hydra's own list names every group of conf/, read or not)."""
    lines = [
        f"{g}: {', '.join(sorted(p.stem for p in (CONF_DIR / g).glob('*.yaml')))}" for g in defaults_groups(config_name)
    ]
    return "\n".join(lines) or "(none: set the keys below)"


OmegaConf.register_new_resolver("nnscratch.groups", groups_help, replace=True)
# keys of train.yaml that say where to write, or what to do after (repair), not what to run
NOT_IDENTITY = ("out_dir", "logger", "repair")


@contextmanager
def hydra_context(conf_dir: Path = CONF_DIR) -> Iterator[None]:
    """Initialise Hydra on `conf_dir` unless it already is (e.g. inside @hydra.main)."""
    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
        yield


def compose_run(overrides: list[str], conf_dir: Path = CONF_DIR) -> tuple[dict, dict]:
    """(config, group choices) of train.yaml with `overrides`, e.g. ["weights=zeros", "seed=1"]."""
    with hydra_context(conf_dir):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
    return plain(cfg), choices


def refusal(err: Exception, config_name: str = "train") -> str:
    """Hydra's refusal of a compose as one line naming the key and the fix: an unknown key with the
    nearest valid one (Hydra would say it in six lines, suggesting `+train.lrr=`, which the schema then
    refuses), a value of the wrong type, a missing option."""
    cause = err
    while cause.__cause__ is not None:
        cause = cause.__cause__
    full_key = str(getattr(cause, "full_key", "") or "")
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and "not in" in str(cause):
        group, _, key = full_key.rpartition(".")
        if dataclasses.is_dataclass(cause.object_type):  # the option's schema, from its file's defaults
            return unknown_key(group, key, cause.object_type)
        names = schema_keys(group) if group else defaults_groups(config_name) + top_keys(config_name)
        if names:
            return f"{group or config_name}: unknown key '{key}'{nearest(key, names)} (keys: {', '.join(names)})"
    if isinstance(cause, ValidationError) and full_key and dataclasses.is_dataclass(cause.object_type):
        wanted = type_name(annotation_of(cause.object_type, str(cause.key)))
        value = re.search(r"Value '(.*?)' (?:of type|is not)", str(cause))
        return f"{full_key}: must be {wanted}, got {value.group(1)!r}" if value else f"{full_key}: {cause.msg}"
    return " ".join(str(err).split("Config search path")[0].split())


def command_line_refusal(config_name: str, argv: list[str]) -> str | None:
    """`refusal` of a command line's overrides, checked before Hydra composes them, or None. Only a plain
    run of conf/ is looked at (-m, --config-dir, --cfg: Hydra says what is wrong)."""
    from hydra._internal.utils import get_args_parser

    args = get_args_parser().parse_args(argv)
    flags = (args.help, args.hydra_help, args.cfg, args.info, args.shell_completion, args.multirun, args.config_dir)
    if any(flags) or args.config_name or args.config_path:
        return None
    overrides = [o for o in args.overrides if not o.lstrip("+~").startswith("hydra")]
    try:
        with hydra_context():
            compose(config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        return refusal(err, config_name)
    return None


def run_keys(conf_dir: Path = CONF_DIR) -> list[str]:
    """The top-level keys of a run (its groups, seed, ...): those of the composed train.yaml, so that a
    group added to conf/run.yaml is one at once."""
    return list(compose_run([], conf_dir)[0])


class Composer:
    """compose_run for many cells: one Hydra compose per distinct set of structural overrides."""

    def __init__(self, conf_dir: Path = CONF_DIR):
        self.conf_dir = conf_dir
        self.bases: dict[tuple[str, ...], tuple[dict, dict] | Exception | None] = {}
        self.parsed: dict[str, Override] = {}
        self.groups: set[str] | None = None

    def __call__(self, overrides: list[str]) -> tuple[dict, dict]:
        """(config, group choices), equal to compose_run(overrides); raises what Hydra raises."""
        structural, values = self.split(overrides)
        base = self.base(tuple(structural))
        if base is None:  # interpolations: a value may feed another key, compose in full
            return compose_run(overrides, self.conf_dir)
        config, choices = base
        try:
            for key, value in values:
                config = with_value(config, key.split("."), value)
        except KeyError:  # not a plain replacement: let Hydra say what is wrong
            return compose_run(overrides, self.conf_dir)
        return config, choices

    def split(self, overrides: list[str]) -> tuple[list[str], list[tuple[str, object]]]:
        """(overrides to compose with, [(dotted key, parsed value)] to apply to the result)."""
        structural, values = [], []
        for text in overrides:
            o = self.parse(text)
            plain_value = (
                o.type == OverrideType.CHANGE
                and not o.is_sweep_override()
                and o.package is None
                and "/" not in o.key_or_group
                and o.key_or_group not in self.group_names()
                and not isinstance(o.value(), dict)
                and "${" not in text
            )
            if plain_value:
                values.append((o.key_or_group, o.value()))
            else:
                structural.append(text)
        return structural, values

    def parse(self, text: str) -> Override:
        if text not in self.parsed:
            self.parsed[text] = OverridesParser.create().parse_override(text)
        return self.parsed[text]

    def group_names(self) -> set[str]:
        if self.groups is None:
            with hydra_context(self.conf_dir):
                self.groups = set(GlobalHydra.instance().config_loader().list_groups(""))
        return self.groups

    def base(self, structural: tuple[str, ...]) -> tuple[dict, dict] | None:
        if structural not in self.bases:
            try:
                with hydra_context(self.conf_dir):
                    cfg = compose("train", overrides=list(structural), return_hydra_config=True)
                interpolated = "${" in json.dumps(OmegaConf.to_container(without_hydra(cfg), resolve=False))
                self.bases[structural] = (
                    None if interpolated else (plain(cfg), OmegaConf.to_container(cfg.hydra.runtime.choices))
                )
            except Exception as err:  # every cell with these overrides fails the same way
                self.bases[structural] = err
        base = self.bases[structural]
        if isinstance(base, Exception):
            raise base
        return base


def with_value(config: dict, path: list[str], value) -> dict:
    """A copy of `config` with the existing key at `path` replaced by `value` (only the path is copied:
    the rest is shared with `config`); KeyError if the key does not exist or holds a mapping (Hydra
    would merge into it)."""
    head, *rest = path
    if not isinstance(config, dict) or head not in config or (not rest and isinstance(config[head], dict)):
        raise KeyError(head)
    return config | {head: with_value(config[head], rest, value) if rest else copy.deepcopy(value)}


def without_hydra(cfg: DictConfig) -> DictConfig:
    """A composed train config without Hydra's node and the output location."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in ("hydra", *NOT_IDENTITY):
            cfg.pop(key, None)
    return cfg


def plain(cfg: DictConfig) -> dict:
    """A composed train config as a plain dict, without Hydra's node and the output location."""
    return OmegaConf.to_container(without_hydra(cfg), resolve=True)


def run_id(config: dict) -> str:
    """A stable id: hash of the resolved config, less where the data is read from and the dataset's
    catalogue (what the data is, which data.name names: nnscratch.datasets)."""
    identity = json.loads(json.dumps(config))
    identity["data"].pop("dir", None)
    identity["data"].pop("mirrors", None)
    identity["data"].pop("catalogue", None)
    if identity.get("network") == {"name": "builtin"}:  # the built-in network: the run of before the group came
        identity.pop("network")
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def command(overrides: list[str]) -> str:
    """The shell command that reproduces a run alone."""
    return " ".join(["python -m experiments.train", *(shlex.quote(o) for o in overrides)])


def override(key: str, value) -> str:
    """A Hydra override string, e.g. ("model.hidden", [10]) -> "model.hidden=[10]"."""
    if isinstance(value, list | tuple):
        value = "[" + ",".join(str(v) for v in value) + "]"
    elif value is None:
        value = "null"
    return f"{key}={value}"
