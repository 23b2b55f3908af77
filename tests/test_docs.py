"""The README and docs/ point at what exists: every relative link resolves inside the repository, and
every command the README shows names a module and config options that exist."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
MODULE = re.compile(r"python3? -m ([\w.]+)")
CONFIG_DIR = re.compile(r"--config-dir[ =](\S+)")
CHOICE = re.compile(r"(?<![\w.+~-])([a-z_]+)=([A-Za-z_][\w-]*)(?=\s|$|')")


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:|#", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page):
    broken = []
    for target in relative_links(page):
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists() or ROOT not in path.parents:
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere in the repository: {broken}"


def code_lines(page: Path) -> list[str]:
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", page.read_text(), re.S)
    return [line.split("#")[0] for block in blocks for line in block.splitlines()]


def test_the_readmes_commands_name_modules_and_options_that_exist():
    lines = code_lines(ROOT / "README.md")
    assert lines, "the README shows no command"
    missing = []
    for line in lines:
        for module in MODULE.findall(line):
            path = ROOT / Path(*module.split("."))
            if module.split(".")[0] in ("experiments", "benchmarks", "nnscratch"):
                if not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
                    missing.append(f"python -m {module}")
        folders = [ROOT / d for d in CONFIG_DIR.findall(line)] + [ROOT / "conf"]  # a user's folder first
        for group, option in CHOICE.findall(line):
            if (ROOT / "conf" / group).is_dir() and not any((f / group / f"{option}.yaml").is_file() for f in folders):
                missing.append(f"{group}={option}")
    assert not missing, f"the README's commands name what does not exist: {missing}"
