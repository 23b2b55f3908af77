"""The folders configuration is read from: Hydra's search path, as folders.

`python -m experiments.sweep --config-dir <dir>` adds <dir> to Hydra's search path, so every grid cell,
composed while Hydra is initialised, sees the user's groups and options. The files the program reads
itself (a grid's claims file, conf/claims.yaml) are looked up in the same folders, the user's first,
so that a user's claims file (or their own claims.yaml) is the one a sweep and its report use.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.global_hydra import GlobalHydra

from nnscratch.paths import CONF_DIR


def search_folders() -> list[tuple[str, Path]]:
    """(provider, folder) of each folder on Hydra's search path, in Hydra's order; [] outside Hydra."""
    if not GlobalHydra.instance().is_initialized():
        return []
    found = GlobalHydra.instance().config_loader().get_sources()
    return [(s.provider, Path(s.path)) for s in found if s.scheme() == "file"]


def conf_dirs(conf_dir: Path = CONF_DIR) -> list[Path]:
    """The folders of Hydra's search path, `--config-dir` first, then the primary config folder (conf/,
    or the folder of `--config-path`); [conf_dir] when Hydra is not initialised (a library call)."""
    main = [path for provider, path in search_folders() if provider == "main"]
    added = [path for provider, path in search_folders() if provider != "main"]
    return added + main or [Path(conf_dir)]


def search_path_flags() -> list[str]:
    """The command-line flags that give Hydra this search path: `--config-path=<copy>` when the primary
    folder is not the package's conf/, `--config-dir=<dir>` when the command line added one; [] for conf/
    alone. A command that reproduces a run alone needs them."""
    flags = []
    for provider, path in search_folders():
        if provider == "main" and path.resolve() != CONF_DIR.resolve():
            flags.append(f"--config-path={path}")
        elif provider == "command-line":
            flags.append(f"--config-dir={path}")
    return flags
