"""What adaptive seeds would cost a real sweep under a sequential design: the extra runs and time.

Every check cell the claims engine leaves open at the grid's own seeds (seeds < `first`) is played
forward with the engine's rule (benchmarks.calibration.binomial_rule, round after round) on seeds that
pass with the share of the cell's seeds that passed over all the seeds the folder has.
A run cell (the axes but the seed) costs the most seeds any of its check cells needs (an expectation
over replications, per check cell: so a lower bound on the mean of the maximum), and each extra run
its cell's mean run time.

`replay` plays a finished adaptive sweep's rounds again on its own records under another design (e.g. with
a futility stop): each round evaluates the claims on the runs it has so far (claims.evaluate), asks
nnscratch.run.adaptive.wanted_cells which run cells get seeds up to which count (the very code of a
sweep's rounds), and takes those seeds from the folder's runs in seed order. Nothing imports this module
but experiments/calibrate.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from benchmarks.calibration import Case, binomial_rule
from nnscratch import results
from nnscratch.claims import CELL_STATS, OPEN, design, evaluate, for_dataset
from nnscratch.results import SEED
from nnscratch.run.adaptive import cell_key, wanted_cells
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


def replay(claims: dict, sweep_dir, max_seeds: int, first: int) -> dict:
    """The folder's adaptive rounds played again under `claims`' design, on the folder's own runs: the runs
    and run-seconds it would have used (and their share of the folder's), the rounds, the run cells it wanted
    seeds for beyond the record (0 when the record covers the replay), and every check cell whose decision
    differs from the folder's own (all its runs) or that the futility stop left undecided."""
    runs, histories, axes = results.read_results(sweep_dir), results.read_histories(sweep_dir), results.axes(sweep_dir)
    claims = for_dataset(claims, results.dataset_of(sweep_dir))
    runs = runs[runs["status"] == "finished"].sort_values(SEED).reset_index(drop=True)
    specs = [{"run_id": r["run_id"], "axes": {a: r[a] for a in axes}} for _, r in runs.iterrows()]
    cell = pd.Series([cell_key(s) for s in specs])
    order = runs.groupby(cell).cumcount()  # a run's place in its cell, in seed order
    have, test, rounds, short = (order < first).to_numpy().copy(), design(claims), 0, 0
    while True:
        now = evaluate(claims, runs[have], histories, axes)
        chosen = [s for s, h in zip(specs, have) if h]
        wanted = wanted_cells(now, chosen, max_seeds, test.looks, test.futility is not None)
        short = sum(c.target > int((cell == key).sum()) for key, c in wanted.items())
        if not wanted:
            break
        before = have.copy()
        for key, c in wanted.items():
            have |= ((cell == key) & (order < c.target)).to_numpy()
        if (have == before).all():  # the rule wants only seeds the folder does not have
            break
        rounds += 1
    everything = evaluate(claims, runs, histories, axes)
    full = {(c.id, ch.what): ch for c in everything for ch in c.checks}
    changed = []
    for claim in now:
        for check in claim.checks:
            before = full[(claim.id, check.what)]
            for i in check.cells.index:
                other = matching(before.cells, check.cells.loc[i])
                was = other["decision"] if other is not None else "—"
                stopped = check.cells.at[i, "futility"]
                if was != check.cells.at[i, "decision"] or stopped:
                    name = ", ".join(f"{k}={check.cells.at[i, k]}" for k in check.cells.columns if k not in CELL_STATS)
                    changed.append(
                        f"{claim.id} / {check.what} / {name}: {was} -> {check.cells.at[i, 'decision']} "
                        f"({check.cells.at[i, 'seeds']} seeds{'; ' + stopped if stopped else ''})"
                    )
    verdicts = {c.id: (c.verdict, f.verdict) for c, f in zip(now, everything)}
    seconds = runs["seconds"].to_numpy(float)
    used, held = pd.Series(have).groupby(cell).sum(), cell.value_counts()
    fewer = [f"{key}: {int(used[key])} seeds (folder: {int(held[key])})" for key in used.index if used[key] < held[key]]
    return {
        "runs": int(have.sum()),
        "runs in the folder": len(runs),
        "run-seconds": float(seconds[have].sum()),
        "run-seconds in the folder": float(seconds.sum()),
        "rounds": rounds,
        "cells wanted beyond the record": short,
        "verdicts (replay, folder)": verdicts,
        "cells changed or stopped for futility": changed,
        "run cells given fewer seeds": fewer,
    }
