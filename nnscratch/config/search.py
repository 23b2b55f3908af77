"""The folders configuration is read from: Hydra's search path, as folders.

`python -m experiments.sweep --config-dir <dir>` adds <dir> to Hydra's search path, so every grid cell,
composed while Hydra is initialised, sees the user's groups and options. The files the program reads
itself (a grid's claims file, conf/claims.yaml) are looked up in the same folders, the user's first,
so that a user's claims file (or their own claims.yaml) is the one a sweep and its report use.

A file of the user's folder that would be silently ignored is refused by name (`ignored_files`): a changed
copy of an option or config conf/ also has (Hydra reads the primary folder first), or of conf/diagnoses.yaml,
which each run is diagnosed with from conf/ only.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.global_hydra import GlobalHydra

from nnscratch.paths import CONF_DIR

FROM_CONF_ONLY = ("diagnoses.yaml", "diagnosis_causes.yaml")  # read by the workers and the report from conf/


def search_folders() -> list[tuple[str, Path]]:
    """(provider, folder) of each folder on Hydra's search path, in Hydra's order; [] outside Hydra."""
    if not GlobalHydra.instance().is_initialized():
        return []
    found = GlobalHydra.instance().config_loader().get_sources()
    return [(s.provider, Path(s.path)) for s in found if s.scheme() == "file"]


def conf_dirs(conf_dir: Path = CONF_DIR) -> list[Path]:
    """The folders of Hydra's search path, `--config-dir` first, then the primary config folder (conf/,
    or the folder of `--config-path`); [conf_dir] when Hydra is not initialised (a library call)."""
    folders = search_folders()
    main = [path for provider, path in folders if provider == "main"]
    added = [path for provider, path in folders if provider != "main"]
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


def ignored_files(conf_dir: Path = CONF_DIR) -> list[str]:
    """One line for each file of a user's folder (`--config-dir`) that would be silently ignored: a file the
    primary folder also has, with other contents (a copy that changes nothing is left alone), one of
    FROM_CONF_ONLY or a config Hydra reads from the primary folder first (a top-level claims file excepted:
    the user's is read first)."""
    *added, primary = conf_dirs(conf_dir)
    problems = []
    for folder in added:
        for path in sorted(Path(folder).rglob("*.yaml")):
            name = path.relative_to(folder)
            if not (primary / name).is_file() or (primary / name).read_bytes() == path.read_bytes():
                continue  # a file of its own, or a copy that changes nothing
            if str(name) in FROM_CONF_ONLY:
                problems.append(
                    f"{path}: not read, runs are diagnosed with {primary / name}; edit that one or remove yours"
                )
            elif not (len(name.parts) == 1 and name.name.startswith("claims")):
                problems.append(
                    f"{path}: not read, Hydra reads {primary / name} first; give yours another name "
                    "(or run on a whole copy of that folder: --config-path=<the copy>)"
                )
    return problems
