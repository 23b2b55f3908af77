"""Hydra's compose API, wrapped: a run's overrides -> its plain resolved config.

A sweep cell and ``python -m experiments.train <overrides>`` go through the same `compose_run`, so
they are the same run. Everything downstream gets plain dicts, never Hydra objects.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
NOT_IDENTITY = ("out_dir",)  # keys of train.yaml that say where to write, not what to run


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


def plain(cfg: DictConfig) -> dict:
    """A composed train config as a plain dict, without Hydra's node and the output location."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in ("hydra", *NOT_IDENTITY):
            cfg.pop(key, None)
    return OmegaConf.to_container(cfg, resolve=True)


def run_id(config: dict) -> str:
    """A stable id: hash of the resolved config, less where the data is read from."""
    identity = json.loads(json.dumps(config))
    identity["data"].pop("dir", None)
    identity["data"].pop("mirrors", None)
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
