"""Where the project's configuration lives: conf/ beside the package (Hydra's config folder)."""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
