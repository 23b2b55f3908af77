"""Where the project's configuration lives: conf/ beside the package (Hydra's config folder), and the
folders a user adds to it (`--config-dir`), where the files the program reads itself are looked up first."""

from collections.abc import Sequence
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def conf_file(name: str, folders: Sequence[Path] = (CONF_DIR,)) -> Path:
    """The file `name` (e.g. "claims_myinit.yaml") of the first of `folders` that holds it; else its path in
    the last of them (the package's conf/, where an error then says it is missing)."""
    for folder in folders:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return Path(folders[-1]) / name
