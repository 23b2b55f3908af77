"""How right the diagnoses are: each run's built-in cause (conf/diagnosis_causes.yaml) against its
headline diagnosis, recomputed from a sweep folder. Pure, like nnscratch.diagnose.

    python -m benchmarks.diagnosis_causes outputs/log_grid/<timestamp> [more sweep folders]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import yaml

from nnscratch import diagnose, results

CAUSES = diagnose.DIAGNOSES.with_name("diagnosis_causes.yaml")


def value_at(config: dict, dotted: str):
    """config["a"]["b"] for "a.b"; None where the path does not exist."""
    node = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def matches(select: dict, config: dict) -> bool:
    """Every key of `select` has its value (or one of its values, for a list) in the config."""
    return all(value_at(config, k) in (v if isinstance(v, list) else [v]) for k, v in select.items())


def cause_of(config: dict, causes: list[dict]) -> dict:
    """The first cause whose selection matches the run's config."""
    return next(c for c in causes if matches(c.get("select", {}), config))


def diagnosed_causes(sweep_dir: Path, causes: list[dict]) -> pd.DataFrame:
    """run_id, cause, expected, diagnosis (headline), diagnoses, agrees: one row per finished run."""
    rows = []
    for d in results.run_dirs(sweep_dir):
        config = json.loads((d / "config.json").read_text())["config"]
        found = diagnose.diagnose_folder(d)
        if not found:
            continue
        cause = cause_of(config, causes)
        head = found[0].name
        rows.append(
            {"run_id": d.name, "cause": cause["cause"], "diagnosis": head, "agrees": head in cause["expected"]}
            | {"diagnoses": "; ".join(x.name for x in found), "expected": " or ".join(cause["expected"])}
        )
    return pd.DataFrame(rows)


def confusion(table: pd.DataFrame) -> pd.DataFrame:
    """Cause (rows, with what was expected) x headline diagnosis (columns): numbers of runs."""
    labels = table["cause"] + " → " + table["expected"]
    return pd.crosstab(labels.rename("cause → expected"), table["diagnosis"])


def main(folders: list[str]) -> None:
    causes = yaml.safe_load(CAUSES.read_text())["causes"]
    for folder in folders:
        table = diagnosed_causes(Path(folder), causes)
        print(f"{folder}: {len(table)} runs, {int(table['agrees'].sum())} headline diagnoses as expected")
        print(confusion(table).to_markdown())


if __name__ == "__main__":
    main(sys.argv[1:])
