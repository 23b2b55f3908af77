"""Adaptive seeds: after a sweep's runs, more seeds only for the cells that feed an undecided check.

A round evaluates the claims file (nnscratch.claims) on the results so far. Every cell of every
check that is undecided (or split between outcomes) names the runs it was computed from (for a
contrast, both sides); each of those runs' cells (its axes but the seed) gets the next seed numbers,
up to `max_seeds` seeds in the cell. How many at once: up to the design's next look at which the cell can
still be decided (`round_target`; claims.seeds_needed, exact: if every further seed passed, or every one
failed), or only to the next look when the design has a futility stop; a cell that no look can decide any
more, or that its last look stopped for futility (stats.futile), gets none. New seeds are numbered above
the cell's largest (`next_seeds`), so a cell's seeds in seed order are the order they were added and an
earlier look's prefix never changes, whatever the grid's seed list. A new run is the cell's own overrides
with another `seed=`, composed and recorded like any run of the grid. Rounds go on until every check is
decided, or every open cell has `max_seeds` seeds or can no longer be decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nnscratch.claims import ClaimResult, design, evaluate, undecided_runs
from nnscratch.config.compose import Composer
from nnscratch.config.grid import make_spec
from nnscratch.paths import CONF_DIR
from nnscratch.results import SEED


@dataclass
class Cell:
    """Runs that differ only by seed, and why the cell needs more."""

    specs: list[dict]
    reasons: list[str] = field(default_factory=list)
    target: int = 0
    evidence: list[tuple[int, int]] = field(default_factory=list)  # (seeds passing, judged) of each reason

    @property
    def seeds(self) -> list[int]:
        return sorted({int(s["axes"][SEED]) for s in self.specs})


def cell_key(spec: dict) -> str:
    return json.dumps({k: v for k, v in spec["axes"].items() if k != SEED}, sort_keys=True, default=str)


def cells_of(specs: list[dict]) -> dict[str, list[dict]]:
    """{cell key: its specs} (a cell: runs that differ only by seed), in the order the specs come."""
    by_cell: dict[str, list[dict]] = {}
    for s in specs:
        by_cell.setdefault(cell_key(s), []).append(s)
    return by_cell


def verdicts(results_: list[ClaimResult]) -> dict[str, str]:
    return {c.id: c.verdict for c in results_}


def stop_reason(results_: list[ClaimResult], max_seeds: int) -> str:
    """Why the adaptive rounds ended (sweep.json's adaptive.stopped), from the claim results at the end."""
    left = len(undecided_runs(results_))
    return (
        f"{left} cell(s) of checks are still undecided at max_seeds = {max_seeds}" if left else "every check is decided"
    )


def wanted_cells(
    results_: list[ClaimResult], specs: list[dict], max_seeds: int, looks: tuple[int, ...], by_look: bool = False
) -> dict[str, Cell]:
    """The run cells feeding an undecided check, each with the seed count it should reach this round (by_look:
    the design has a futility stop, so a cell goes one look at a time; see round_target)."""
    by_id, by_cell = {s["run_id"]: s for s in specs}, cells_of(specs)
    wanted: dict[str, Cell] = {}
    for claim_id, where, run_ids, needed, judged in undecided_runs(results_):
        if needed is None:  # no look can decide it any more, or stopped for futility: seeds would be wasted
            continue
        for key in {cell_key(by_id[r]) for r in run_ids if r in by_id}:
            cell = wanted.setdefault(key, Cell(by_cell[key]))
            goal = round_target(len(cell.seeds), needed, max_seeds, looks, by_look)
            cell.target = max(cell.target, int(goal))
            cell.reasons.append(f"{claim_id} — {where}")
            cell.evidence.append(judged)
    return {k: c for k, c in wanted.items() if len(c.seeds) < c.target}


def round_target(n, needed, max_seeds: int, looks: tuple[int, ...], by_look: bool = False):
    """Seeds a cell should reach this round (arrays or scalars): `needed`, the next look at which it can
    still be decided (NaN: unknown, go to max_seeds), at least one more than it has, moved up onto a look
    (a cell is judged only at its looks), never beyond max_seeds. by_look (a design with a futility stop):
    only up to the next look above n, so that every look can stop the cell (a cell whose next look cannot
    decide it would otherwise jump past it to `needed`). The design's error does not depend on the steps
    (every look at or below a cell's seeds is judged on its prefix): the steps are a matter of cost."""
    n, looks_ = np.asarray(n), np.asarray(looks)

    def look_from(seeds, side: str = "left"):  # the first look at or above (side "right": above) `seeds`, or the last
        return looks_[np.minimum(np.searchsorted(looks_, seeds, side=side), len(looks_) - 1)]

    goal = np.maximum(n + 1, np.where(np.isnan(needed), max_seeds, needed))
    goal = np.maximum(goal, look_from(goal))
    if by_look:
        goal = np.maximum(np.minimum(goal, look_from(n, "right")), n + 1)
    return np.minimum(max_seeds, goal)


def next_seeds(have: list[int], count: int) -> list[int]:
    """`count` new seed numbers above the largest a cell has (e.g. [42, 43, 44] -> 45, 46, ...): sorted by
    number, a cell's seeds are then in the order they were added, so a look's seeds never change."""
    top = max(have, default=-1)
    return list(range(top + 1, top + 1 + count))


def new_seeds(cell: Cell) -> list[int]:
    return next_seeds(cell.seeds, max(0, cell.target - len(cell.seeds)))


def with_seed(spec: dict, seed: int, names: list[str], conf_dir: Path, composer: Composer | None = None) -> dict:
    """The run of the same cell with another seed, composed as a grid cell is."""
    overrides = [o for o in spec["overrides"] if o.split("=", 1)[0].lstrip("+~") != SEED] + [f"{SEED}={seed}"]
    new, problems = make_spec(overrides, spec["axes"] | {SEED: seed}, names, conf_dir, composer)
    if problems or new is None:
        raise ValueError(f"adding seed {seed} to {spec['command']}: " + "; ".join(problems))
    return new


@dataclass(frozen=True)
class SeedRounds:
    """What the adaptive rounds of a sweep plan from: the `claims` that judge it, its grid's `axes`, its
    `specs` so far (the same list, grown as rounds add seeds), at most `max_seeds` seeds per cell, and
    the `conf_dir` new runs compose from."""

    claims: dict
    axes: list[str]
    specs: list[dict]
    max_seeds: int
    conf_dir: Path = CONF_DIR


def plan_round(
    rounds: SeedRounds, runs: pd.DataFrame, histories: pd.DataFrame
) -> tuple[list[ClaimResult], list[dict], list[dict]]:
    """(claim results now, the round's cells as recorded in sweep.json, each cell's new run specs)."""
    claims, axes, conf_dir = rounds.claims, rounds.axes, rounds.conf_dir
    results_ = evaluate(claims, runs, histories, axes)
    cells, new, composer = [], [], Composer(conf_dir)  # one Hydra compose per cell, not per seed
    test = design(claims)
    for cell in wanted_cells(results_, rounds.specs, rounds.max_seeds, test.looks, test.futility is not None).values():
        entry, added = round_entry(cell, axes, conf_dir, composer)
        cells.append(entry)
        new.append(added)
    return results_, cells, new


def round_entry(
    cell: Cell, axes: list[str], conf_dir: Path = CONF_DIR, composer: Composer | None = None
) -> tuple[dict, list[dict]]:
    """(a cell's entry in its round's record in sweep.json, the specs of its new seeds; `composer` keeps
    each cell's Hydra composition: a new seed only changes a value)."""
    template = cell.specs[0]
    added = [with_seed(template, seed, axes, conf_dir, composer) for seed in new_seeds(cell)]
    entry = {
        "cell": {k: v for k, v in template["axes"].items() if k != SEED},
        "seeds": [int(s["axes"][SEED]) for s in added],
        "reason": "undecided: " + "; ".join(dict.fromkeys(cell.reasons)),
        "runs": [{"run_id": s["run_id"], "overrides": s["overrides"]} for s in added],
    }
    return entry, added


def recorded_specs(rounds: list[dict], axes: list[str], conf_dir: Path = CONF_DIR) -> list[dict]:
    """The specs of every run the recorded rounds added (to resume them)."""
    out = []
    for r in rounds:
        for cell in r["cells"]:
            for seed, run in zip(cell["seeds"], cell["runs"]):
                values = cell["cell"] | {SEED: seed}
                spec, problems = make_spec(run["overrides"], values, axes, conf_dir)
                if problems or spec is None or spec["run_id"] != run["run_id"]:
                    raise ValueError(f"cannot recreate the added run {run['run_id']}: " + "; ".join(problems))
                out.append(spec)
    return out
