"""Your network against the built-in one, cell by cell on the same seeds: is it the code or the config?

A sweep run with network=notebook also runs each cell with the built-in network (nnscratch.run.sweep
adds a `network` axis). Where the built-in network learns a cell and yours collapses, the cause is in
the code, and the check's findings (network_check.json, nnscratch.networks.checks) say where; where
both collapse, it is the config.
"""

from __future__ import annotations

import pandas as pd

from nnscratch import results
from nnscratch.report.load import Sweep
from nnscratch.report.render import Section

FAILED = ("collapsed", "diverged", "failed")


def failing(outcomes: pd.Series) -> bool:
    """A cell fails when most of its seeds collapsed, diverged or failed."""
    return outcomes.isin(FAILED).mean() > 0.5


def outcomes_in_words(outcomes: pd.Series) -> str:
    return ", ".join(f"{k} {v}" for k, v in outcomes.value_counts().items())


DIFFERENT = 5.0  # points of test accuracy between two learning networks that the reading names


def reading(mine_fails: bool, builtin_fails: bool, points: float) -> str:
    if mine_fails and not builtin_fails:
        return "the code: the built-in network learns this cell"
    if mine_fails:
        return "the config: the built-in network collapses too"
    if builtin_fails:
        return "yours learns where the built-in network collapses (the code changes what this config does)"
    if abs(points) >= DIFFERENT:
        return f"both learn, yours {points:+.1f} points (the code changes what this config does)"
    return "both learn"


def network_comparison(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """One row per cell (axes but network and seed): mean test accuracy of each network over the seeds
    both ran, their outcomes, the difference in points, and what it says."""
    cell_axes = [a for a in axes if a not in ("network", "seed") and a in runs.columns and runs[a].nunique() > 1]
    runs = runs.assign(outcome=runs["outcome"].fillna(runs["status"]))
    mine, builtin = runs[runs["network"] != "builtin"], runs[runs["network"] == "builtin"]
    keys = [*cell_axes, "seed"] if "seed" in runs.columns else cell_axes
    paired = mine.merge(builtin, on=keys, suffixes=("", "_builtin"))
    rows = []
    for cell, g in paired.groupby(cell_axes, sort=False) if cell_axes else [((), paired)]:
        cell = cell if isinstance(cell, tuple) else (cell,)
        yours, theirs = failing(g["outcome"]), failing(g["outcome_builtin"])
        points = 100 * (g["test_acc"] - g["test_acc_builtin"]).mean()
        rows.append(
            dict(zip(cell_axes, cell))
            | {
                "seeds": len(g),
                "built-in test accuracy": round(g["test_acc_builtin"].mean(), 4),
                "yours": round(g["test_acc"].mean(), 4),
                "yours - built-in (points)": round(points, 2),
                "built-in outcomes": outcomes_in_words(g["outcome_builtin"]),
                "your outcomes": outcomes_in_words(g["outcome"]),
                "cause": reading(yours, theirs, points),
            }
        )
    return pd.DataFrame(rows).sort_values("cause", kind="stable") if rows else pd.DataFrame(rows)


def network_section(s: Sweep) -> list[Section]:
    """The comparison section of a sweep run with a network of the user's own; none for other sweeps."""
    network = s.record.get("network")
    if not network or "network" not in s.runs.columns:
        return []
    table = network_comparison(s.runs, s.axes)
    check = results.read_json(s.path / "network_check.json") if (s.path / "network_check.json").is_file() else {}
    findings = check.get("findings") or []
    code = table[table["cause"].str.startswith("the code")] if len(table) else table
    config = table[table["cause"].str.startswith("the config")] if len(table) else table
    text = [
        f"Your network: `{network['source']}` (sha256 {network['sha256'][:12]}), run on every cell of the grid "
        "beside the built-in network, on the same seeds and the same initial parameters.",
        f"Of {len(table)} cells, yours fails where the built-in network learns in **{len(code)}** (the cause is in "
        f"the code), both fail in **{len(config)}** (the config), and "
        f"{int(table['cause'].str.startswith('yours learns').sum()) if len(table) else 0} cells learn with yours "
        "and collapse with the built-in one; in "
        f"{int(table['cause'].str.contains('changes what').sum()) if len(table) else 0} cells both learn but the code "
        f"moves test accuracy by {DIFFERENT:g} points or more.",
    ]
    if findings:
        text.append(f"`python -m experiments.check` found {len(findings)} thing(s) in the code:")
        text += [f"- {f}" for f in findings]
    elif check:
        text.append("`python -m experiments.check` found nothing wrong with the code.")
    return [Section("Your network against the built-in one", text, [("Cell by cell, same seeds", table)])]
