"""Planted bugs: python -m benchmarks.planted_bugs [--out docs/planted_bugs.md]

Each variant of benchmarks/planted_bugs.yaml is examples/tutorial_net.py with one bug planted; each
is checked by the real command, `python -m experiments.check network=notebook network.source=<variant>`,
timed, and counted as found when a finding names its place (function -> array). Writes a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "tutorial_net.py"


def planted(variant: dict, source: str) -> str:
    """The correct example's text with the variant's bug planted; ValueError if its `old` text is gone."""
    if variant["old"] not in source:
        raise ValueError(f"{variant['name']}: the text to replace is not in {CORRECT.name}")
    return variant.get("prepend", "") + source.replace(variant["old"], variant["new"], 1)


def check(path: Path) -> tuple[int, list[str], float]:
    """(exit code, FOUND lines, seconds) of experiments.check on one file."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "experiments.check", "network=notebook", f"network.source={path}"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    found = [
        line.strip().removeprefix("FOUND ") for line in done.stdout.splitlines() if line.strip().startswith("FOUND")
    ]
    return done.returncode, found + ([done.stderr.strip()] if done.returncode == 2 else []), time.perf_counter() - t0


def names_place(found: list[str], place: str) -> bool:
    """Whether a finding's place (the text between its check and its description) starts with `place`."""
    return any(f.split(": ", 2)[1].startswith(place) for f in found if f.count(": ") >= 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "record" / "planted_bugs.md"))
    args = parser.parse_args()
    variants = yaml.safe_load((ROOT / "benchmarks" / "planted_bugs.yaml").read_text())
    source = CORRECT.read_text()
    rows, bugs, named, silent = [], 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for v in [{"name": "the correct example", "why": "", "expect": "nothing"}, *variants]:
            path = Path(tmp) / f"variant_{len(rows):02d}.py"
            path.write_text(source if "old" not in v else planted(v, source))
            code, found, seconds = check(path)
            if v.get("expect") == "nothing":
                ok = code == 0
                silent += ok
                result = "nothing found, as it should" if ok else "found something: a false alarm"
            else:
                bugs += 1
                ok = names_place(found, v["place"])
                named += ok
                result = "named" if ok else "NOT named"
            first = next((f for f in found if names_place([f], v.get("place", "\0"))), found[0] if found else "")
            rows.append((v["name"], v.get("place", "(none)"), result, first.replace("|", "\\|"), f"{seconds:.1f}"))
            print(f"{v['name']:45s} {result:30s} {seconds:5.1f} s", flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    lines = [
        "# Planted bugs: what `experiments.check` finds",
        "",
        "Each row is `examples/tutorial_net.py` with one bug planted (`benchmarks/planted_bugs.yaml`), checked by",
        "`python -m experiments.check network=notebook network.source=<variant>`; a bug counts as found when a",
        "finding names its place (function -> array). Made by `python -m benchmarks.planted_bugs` on "
        f"{time.strftime('%Y-%m-%d')} ({cpu}, 2 cores, load average {os.getloadavg()[0]:.1f} at the end: seconds "
        "are the whole command's, Python's start and MNIST's loading included).",
        "",
        f"**{named} of {bugs} bugs named by their place; {silent} of 2 non-bugs left silent.**",
        "",
        "| variant | place | result | the finding | seconds |",
        "|:--|:--|:--|:--|--:|",
        *[f"| {' | '.join(r)} |" for r in rows],
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"{named} of {bugs} bugs named; {silent} of 2 non-bugs silent -> {args.out}")


if __name__ == "__main__":
    main()
