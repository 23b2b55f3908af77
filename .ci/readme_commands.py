"""The README's first two commands, as CI runs them: `python3 .ci/readme_commands.py test` prints the
second (install + tests) for .ci/run to execute verbatim, and exits non-zero naming the problem when
the README's first two commands are not install + main job and install + tests."""

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
EXPECTED = {
    "main": ("pip install -e", "python -m experiments.sweep"),
    "test": ("pip install -e", "python -m pytest"),
}


def commands(readme: Path) -> list[str]:
    """The command lines (not comments) of the README's first ```bash block."""
    block = re.search(r"```bash\n(.*?)```", readme.read_text(), re.S)
    lines = block.group(1).splitlines() if block else []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def problems(found: list[str]) -> list[str]:
    """What is wrong with the first two commands, if anything."""
    if len(found) < 2:
        return [f"the README's first bash block has {len(found)} command(s): it needs install+main job, install+tests"]
    out = []
    for (kind, needed), line in zip(EXPECTED.items(), found):
        missing = [n for n in needed if n not in line]
        if missing:
            out.append(f"the README's {kind} command lacks {', '.join(repr(m) for m in missing)}: {line}")
    return out


def main(argv: list[str]) -> int:
    kind = argv[1] if len(argv) > 1 else "test"
    readme = Path(argv[2]) if len(argv) > 2 else README
    found = commands(readme)
    wrong = problems(found)
    if wrong:
        print("error: " + "; ".join(wrong), file=sys.stderr)
        return 1
    print(found[list(EXPECTED).index(kind)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
