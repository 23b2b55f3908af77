"""Where a sweep's records are also sent, for browsing in a tracking UI: the `logger` config group.

    conf/logger/none.yaml     nothing (the default)
    conf/logger/mlflow.yaml   an MLflow tracking store (nnscratch.loggers.mlflow)

A logger is told about records after they are written, by the process that writes (or, on Dask,
receives) them; the records stay the truth. It never raises into a sweep: a tracker that is down is
reported once and then left alone, and `python -m experiments.log sweep_dir=...` logs a finished
sweep folder afterwards. Logging is idempotent: a run already logged (same sweep folder, same run
folder, same record) is not logged again.

A new tracker is a YAML file in conf/logger/ plus a module here with a class that has the two
methods of NoLogger, registered in LOGGERS.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from nnscratch.config.checks import ConfigError


class Logger(Protocol):
    problem: str | None  # why it stopped logging (e.g. the tracker is down), once it did

    def log_runs(self, sweep_dir: Path, folders: Iterable[str] | None = None) -> int:
        """Log these run folders of the sweep (None: every one not logged yet); how many were logged."""

    def log_report(self, sweep_dir: Path, report_dir: Path) -> None:
        """Log the sweep's report folder (report.md, report.html, figures/, tables/) once."""


class NoLogger:
    """logger=none: does nothing."""

    problem = None

    def log_runs(self, sweep_dir: Path, folders: Iterable[str] | None = None) -> int:
        return 0

    def log_report(self, sweep_dir: Path, report_dir: Path) -> None:
        return None


# logger name -> (module that defines it, class name, the package it needs, the pip extra that installs it)
LOGGERS = {
    "none": ("nnscratch.loggers", "NoLogger", None, None),
    "mlflow": ("nnscratch.loggers.mlflow", "MlflowLogger", "mlflow", "mlflow"),
}


def check_logger(settings: dict | None) -> None:
    """ConfigError naming the problem and the fix, before any work: an unknown logger or a missing package."""
    name = (settings or {}).get("name", "none")
    if name not in LOGGERS:
        raise ConfigError(f"logger={name}: unknown logger (allowed: {', '.join(LOGGERS)}: the files of conf/logger/)")
    _, _, package, extra = LOGGERS[name]
    if package and importlib.util.find_spec(package) is None:
        raise ConfigError(f"logger={name} needs the '{package}' package: pip install -e \".[{extra}]\"")


def make_logger(settings: dict | None) -> Logger:
    """The logger a `logger` config (conf/logger/<name>.yaml as a dict; None = none) asks for."""
    check_logger(settings)
    settings = settings or {"name": "none"}
    module, cls, _, _ = LOGGERS[settings.get("name", "none")]
    made = getattr(importlib.import_module(module), cls)
    return made() if made is NoLogger else made(settings)
