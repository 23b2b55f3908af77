"""A sweep file -> the list of fully resolved runs it asks for, or every problem with it.

A sweep declares axes as nested lists of values that mirror the run config, one product in
`axes` and optionally more, named, in `extra` (a sweep is a union of products):

    axes:
      model: {hidden: [[10], [32], [64]]}
      data: {subset: [5000, 60000]}
      weights: [uniform, zeros]        # a config group: its options are files in conf/weights/
      seed: [0, 1, 2]

Each cell becomes Hydra overrides (`model.hidden=[10] data.subset=5000 weights=uniform seed=0`)
composed exactly as ``python -m experiments.train`` would compose them, on Hydra's search path: with
``--config-dir <dir>``, a user's options, grids and groups are found there. A group of the user's folder
that the run's defaults list (conf/run.yaml) does not read is appended to it (`+colour=red`), as Hydra
asks on a command line, so that a new group given only through ``--config-dir`` is swept as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from pathlib import Path

import yaml
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnscratch.config.checks import ConfigError, validate
from nnscratch.config.compose import NOT_IDENTITY, Composer, command, hydra_context, override, refusal, run_id
from nnscratch.config.schema import SingleRunSettings, typed
from nnscratch.config.search import conf_dirs, ignored_files, search_path_flags
from nnscratch.paths import CONF_DIR


def flatten_axes(axes: dict, prefix: str = "") -> dict[str, list]:
    """{"model": {"hidden": [[10]]}, "seed": [0]} -> {"model.hidden": [[10]], "seed": [0]}."""
    flat = {}
    for key, value in axes.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten_axes(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def products(sweep: dict) -> dict[str, dict[str, list]]:
    """Every product of the sweep by name ("main" for `axes`), axes flattened."""
    named = {"main": flatten_axes(sweep.get("axes") or {})}
    named |= {name: flatten_axes(axes or {}) for name, axes in (sweep.get("extra") or {}).items()}
    return {name: axes for name, axes in named.items() if axes or name == "main"}


def axis_names(sweep: dict) -> list[str]:
    """Union of the axes of every product, in order of first appearance."""
    return list(dict.fromkeys(a for axes in products(sweep).values() for a in axes))


def axis_value(value):
    """How an axis value is recorded in tables: lists as "[64,32]", the rest as is."""
    return override("", value)[1:] if isinstance(value, list | tuple) else value


def group_options(group: str) -> list[str] | None:
    """Option names of config group `group` on Hydra's search path, or None if it is not a group."""
    loader = GlobalHydra.instance().config_loader()
    return loader.get_group_options(group) if group in loader.list_groups("") else None


def check_axes(sweep: dict) -> list[str]:
    """Problems visible without composing: empty axes, non-list axes, unknown group options."""
    problems = []
    for name, axes in products(sweep).items():
        if not axes:
            problems.append(f"sweep product '{name}': no axes")
        for axis, values in axes.items():
            where = f"sweep product '{name}', axis {axis}"
            if not isinstance(values, list):
                problems.append(f"{where}: must be a list of values, got {values!r}")
            elif not values:
                problems.append(f"{where}: empty (give at least one value)")
            elif (options := group_options(axis)) is not None:
                problems += [
                    f"{where}: unknown option '{v}' (allowed: {', '.join(options)}; add "
                    f"conf/{axis}/{v}.yaml to create it)"
                    for v in values
                    if v not in options
                ]
    return problems


def appended_groups(sweep: dict, composer: Composer, conf_dir: Path = CONF_DIR) -> set[str]:
    """The axes that are groups of a user's folder (`--config-dir`) which the run's defaults list does not
    read (Hydra's choices of train.yaml): their cells append them (`+group=option`)."""
    added = conf_dirs(conf_dir)[:-1]  # the primary folder (conf/) is last
    mine = {a for a in axis_names(sweep) if "." not in a and any((Path(d) / a).is_dir() for d in added)}
    return mine - set(composer([])[1]) if mine else set()


def cells(sweep: dict, base: list[str], appended: Collection[str] = ()) -> list[tuple[list[str], dict]]:
    """(overrides, axis values) of every cell; an axis replaces a base override of the same key; an
    `appended` group is added to the defaults list (`+group=option`)."""
    out = []
    for axes in products(sweep).values():
        for combo in itertools.product(*axes.values()):
            values = dict(zip(axes, combo))
            mine = {a: ("+" if a in appended else "") + override(a, v) for a, v in values.items()}
            kept = [o for o in base if o.split("=", 1)[0].lstrip("+~") not in mine]
            out.append(([*kept, *mine.values()], {a: axis_value(v) for a, v in values.items()}))
    return out


def lookup(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config.get(part) if isinstance(config, dict) else None
    return config


def expand(sweep: dict, base: list[str] | None = None, conf_dir: Path = CONF_DIR) -> tuple[list[dict], list[str]]:
    """(run specs, problems). A spec: {"run_id", "overrides", "command", "axes", "config"}.

    Axes a cell does not set are filled from its resolved config (a group axis by its option name).
    Runs with identical resolved configs appear once.
    """
    names, specs, composer = axis_names(sweep), {}, Composer(conf_dir)
    with hydra_context(conf_dir):
        problems = ignored_files(conf_dir) + check_axes(sweep)
        if problems:
            return [], problems
        appended = appended_groups(sweep, composer, conf_dir)
        for overrides, values in cells(sweep, list(base or []), appended):
            spec, found = make_spec(overrides, values, names, conf_dir, composer)
            problems += found
            if spec:
                specs.setdefault(spec["run_id"], spec)
    return list(specs.values()), list(dict.fromkeys(problems))


def make_spec(
    overrides: list[str], values: dict, names: list[str], conf_dir: Path = CONF_DIR, composer: Composer | None = None
) -> tuple[dict | None, list]:
    """(run spec, problems) of one cell's overrides; axes it does not set come from its resolved config."""
    with hydra_context(conf_dir):
        try:
            config, choices = (composer or Composer(conf_dir))(overrides)
        except (HydraException, OmegaConfBaseException) as err:
            return None, [f"{' '.join(overrides)}: {refusal(err)}"]
    config, problems = typed(config, [g for g in choices if "/" not in g])
    if problems:
        return None, problems  # each names its key and value: the cells that share it are one line
    axes = {a: values[a] if a in values else axis_value(choices.get(a, lookup(config, a))) for a in names}
    return single_spec(config, overrides, axes), validate(config)


def single_spec(config: dict, overrides: list[str], axes: dict | None = None) -> dict:
    """A run spec: {"run_id", "overrides", "command", "axes", "config"}, for a cell of a grid and for
    one run given on the command line alike. Its command names the folders the run was composed from
    (`--config-dir`, `--config-path`) when they are not conf/ alone, so that it reproduces the run alone."""
    flags = search_path_flags()
    return {"run_id": run_id(config), "overrides": overrides, "command": command([*flags, *overrides])} | {
        "axes": axes or {},
        "config": config,
    }


def swept_axes(sweep_overrides: list[str], job_overrides: list[str]) -> dict:
    """A Hydra multirun job's values of the keys its multirun swept (`sweep_overrides`, e.g.
    ["weights=uniform,zeros", "seed=0,1"]), recorded as a grid records its axes."""
    parser = OverridesParser.create()
    swept = [o.key_or_group for o in parser.parse_overrides(sweep_overrides) if o.is_sweep_override()]
    values = {o.key_or_group: axis_value(o.value()) for o in parser.parse_overrides(job_overrides)}
    return {a: values.get(a) for a in swept}


def job_spec(cfg: DictConfig, hc: DictConfig) -> tuple[dict, Path]:
    """(run spec, output folder) of a `python -m experiments.train` job (Hydra's config and its
    HydraConfig); a multirun job's axes are the keys its multirun swept (its multirun.yaml, which
    Hydra writes before any job starts, beside the job folders)."""
    out_dir, overrides = Path(hc.runtime.output_dir), list(hc.overrides.task)
    groups = [g for g in hc.runtime.choices if "/" not in g]
    whole, problems = typed(OmegaConf.to_container(cfg, resolve=True), groups, root=SingleRunSettings)
    problems = ignored_files() + problems
    if problems:
        raise ConfigError("\n".join(problems))
    config = {k: v for k, v in whole.items() if k not in NOT_IDENTITY}
    axes = {}
    if hc.mode == RunMode.MULTIRUN:
        swept = yaml.safe_load((out_dir.parent / "multirun.yaml").read_text())["hydra"]["overrides"]["task"]
        axes = swept_axes(swept, overrides)
    return single_spec(config, overrides, axes), out_dir
