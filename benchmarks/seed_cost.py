"""What adaptive seeds would cost a real sweep under a sequential design: the extra runs and time.

Every check cell the claims engine leaves open at the grid's own seeds (seeds < `first`) is played
forward with the engine's rule (benchmarks.calibration.binomial_rule, round after round) on seeds that
pass with the share of the cell's seeds that passed over all the seeds the folder has.
A run cell (the axes but the seed) costs the most seeds any of its check cells needs (an expectation
over replications, per check cell: so a lower bound on the mean of the maximum), and each extra run
its cell's mean run time. Nothing imports this module but experiments/calibrate.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from benchmarks.calibration import Case, binomial_rule
from nnscratch import results
from nnscratch.claims import CELL_STATS, OPEN, evaluate, for_dataset
from nnscratch.results import SEED
from nnscratch.stats import BinomialDesign


def run_cell(row: pd.Series, axes: list[str]) -> str:
    return json.dumps({a: str(row[a]) for a in axes if a != SEED}, sort_keys=True)


def open_cells(claims: dict, sweep_dir, first: int) -> tuple[list[dict], pd.DataFrame, list[str]]:
    """(the check cells open at the grid's seeds, with their effect size from all seeds, all runs, axes)."""
    runs, histories, axes = results.read_results(sweep_dir), results.read_histories(sweep_dir), results.axes(sweep_dir)
    claims = for_dataset(claims, results.dataset_of(sweep_dir))
    grid = runs[runs[SEED].astype(int) < first]
    everything = {(c.id, ch.what): ch for c in evaluate(claims, runs, histories, axes) for ch in c.checks}
    out = []
    for claim in evaluate(claims, grid, histories, axes):
        for check in claim.checks:
            for i in check.cells.index[check.cells["decision"].isin(OPEN)] if not check.cells.empty else []:
                cell = check.cells.loc[i]
                full = matching(everything[(claim.id, check.what)].cells, cell)
                rate = float(full["pass_rate_all"]) if full is not None else np.nan
                stuck = pd.isna(cell["seeds_needed"]) or not np.isfinite(rate)  # no look can decide it any more
                out.append({"claim": claim.id, "run_ids": cell["run_ids"], "rate": rate, "stuck": stuck})
    return out, runs, axes


def matching(cells: pd.DataFrame, cell: pd.Series) -> pd.Series | None:
    """The row of `cells` for the same cell (same axis values) as `cell`."""
    keys = [k for k in cells.columns if k not in CELL_STATS]
    mask = np.ones(len(cells), bool)
    for k in keys:
        mask &= cells[k].astype(str) == str(cell[k])
    return cells[mask].iloc[0] if mask.any() else None


def seed_cost(
    claims: dict, sweep_dir, test: BinomialDesign, max_seeds: int, first: int, reps: int, seed: int
) -> dict[str, float]:
    """Expected extra runs, CPU seconds and open check cells left at max_seeds, for one sweep folder."""
    cells, runs, axes = open_cells(claims, sweep_dir, first)
    runs = runs.assign(cell=runs.apply(run_cell, axis=1, axes=axes))
    cell_of = dict(zip(runs["run_id"], runs["cell"]))
    need: dict[str, float] = {}
    left = 0.0
    for k, c in enumerate(cells):
        if c["stuck"]:
            seeds, undecided = float(first), 1.0
        else:
            rng = np.random.default_rng([seed, k])
            margins = np.where(rng.random((reps, test.last)) < c["rate"], 1.0, -1.0)
            codes, n = binomial_rule(Case("cost"), margins, test, max_seeds, first)
            seeds, undecided = float(n.mean()), float((codes == 0).mean())
        left += undecided
        for r in c["run_ids"]:
            need[cell_of[r]] = max(need.get(cell_of[r], first), seeds)
    seconds = runs.groupby("cell")["seconds"].mean()
    extra = {cell: s - first for cell, s in need.items()}
    grid_seconds = float(runs.loc[runs[SEED].astype(int) < first, "seconds"].sum())
    return {
        "open check cells at the grid's seeds": len(cells),
        "of which no look can decide any more": sum(c["stuck"] for c in cells),
        "run cells given seeds": len(extra),
        "expected extra runs": sum(extra.values()),
        "expected extra run-seconds (as measured in the folder)": sum(e * seconds[c] for c, e in extra.items()),
        "grid run-seconds (as measured in the folder)": grid_seconds,
        "expected check cells still open": left,
    }
