"""Adaptive rounds that overlap: a cell goes on to its next round as soon as the cells it is judged with are in.

Strict rounds (nnscratch.run.sweep.add_seeds) judge every check on every run, add the round's seeds, and wait
until all of them are in. But a cell's decision in round k (nnscratch.run.adaptive.wanted_cells) reads only
the checks that select it, and each check only its own cells (a check's cells are decided together, by
Holm's step-down: nnscratch.claims.check_decisions). So a cell may decide its round k as soon as every cell it
shares a check with (its neighbours) has decided its round k-1 and those seeds are in: judged on each
neighbour's seeds after round k-1 (a prefix in seed order: new seeds are numbered above the old), it sees
exactly what strict rounds would show it, and decides the same. Its new seeds then run while other cells
still wait for theirs, and the grid's first cells start their rounds while its last ones still train.

A cell whose last decision added nothing, judged on seed counts (its own and its neighbours') that have not
changed since, would decide nothing again: it is settled, and stands for its current seeds in any later round
until a neighbour's count changes. The rounds end when every cell is settled and no run is out: the state strict
rounds end in, the same seeds in every cell (each cell's decisions are strict rounds' own, round by round).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nnscratch.claims import ClaimResult, design, evaluate, select
from nnscratch.config.compose import Composer
from nnscratch.paths import CONF_DIR
from nnscratch.results import SEED
from nnscratch.run.adaptive import cell_key, cells_of, round_entry, stop_reason, verdicts, wanted_cells
from nnscratch.stats import ToCome, pass_rate_prior, seeds_to_come

log = logging.getLogger(__name__)


@dataclass
class CellRounds:
    """One cell's runs in seed order (the grid's, then each round's) and its seed count after each round
    (`after[0]`: the grid's); what its last decision was judged on (seed counts by cell) and whether it added."""

    specs: list[dict]
    after: list[int]
    judged_on: dict[str, int] | None = None
    added: bool = True
    entries: dict[int, dict] = field(default_factory=dict)  # round -> its entry in sweep.json
    evidence: list[tuple[int, int]] = field(default_factory=list)  # why it last added: (passing, judged) per check

    @property
    def round(self) -> int:
        return len(self.after) - 1

    def seeds_after(self, k: int) -> int:
        """Seeds after round k (a cell that stopped deciding stands for its current seeds in later rounds)."""
        return self.after[min(k, self.round)]


def selected_cells(check: dict, frame: pd.DataFrame) -> set[str]:
    """The cell keys a check reads, from the specs' axes (`frame`: one row per spec, with its cell key)."""
    wheres = [check[k] for k in ("select", "a", "b") if k in check]
    return {key for where in wheres if (rows := select(frame, where)) is not None for key in rows["cell"]}


def neighbours(claims: dict, specs: list[dict]) -> tuple[dict[str, set[str]], set[str]]:
    """({cell key: the other cells that share a check with it}, the cells some check reads), from the checks'
    selections (decided checks too: more seeds in one cell of a check can change Holm's decision of another)."""
    frame = pd.DataFrame([s["axes"] | {"cell": cell_key(s)} for s in specs])
    out, read = {key: set() for key in frame["cell"]}, set()
    for claim in claims["claims"]:
        for check in claim["checks"]:
            together = selected_cells(check, frame)
            read |= together
            for key in together:
                out[key] |= together - {key}
    return out, read


class OverlappedRounds:
    """The adaptive rounds of a sweep, cell by cell: `decide` gives the new seeds of every cell whose
    neighbours are in, given the run ids recorded so far and the results (results.csv, histories)."""

    def __init__(self, claims: dict, axes: list[str], specs: list[dict], max_seeds: int, conf_dir: Path = CONF_DIR):
        self.claims, self.axes, self.max_seeds, self.conf_dir = claims, axes, max_seeds, conf_dir
        self.test = design(claims)
        self.looks, self.by_look, self.composer = self.test.looks, self.test.futility is not None, Composer(conf_dir)
        self.cells = {
            k: CellRounds(sorted(v, key=lambda s: int(s["axes"][SEED])), [len(v)]) for k, v in cells_of(specs).items()
        }
        self.near, self.read = neighbours(claims, specs)

    def counts(self, keys) -> dict[str, int]:
        return {k: len(self.cells[k].specs) for k in keys}

    def settled(self, key: str) -> bool:
        """It added nothing last time, judged on the seed counts its cell and neighbours have now."""
        cell = self.cells[key]
        return not cell.added and cell.judged_on == self.counts([key, *self.near[key]])

    def is_in(self, key: str, k: int, recorded: set[str]) -> bool:
        cell = self.cells[key]
        return all(s["run_id"] in recorded for s in cell.specs[: cell.seeds_after(k)])

    def through(self, key: str, k: int, recorded: set[str]) -> bool:
        """Settled, or through round k with its seeds in."""
        return self.settled(key) or (self.cells[key].round >= k and self.is_in(key, k, recorded))

    def due(self, recorded: set[str]) -> dict[int, list[str]]:
        """{round: the cells that can decide it now}: in themselves, and each neighbour settled or through
        the round before with its seeds in."""
        out: dict[int, list[str]] = {}
        for key, cell in self.cells.items():
            k = cell.round
            if self.settled(key) or not self.is_in(key, k, recorded):
                continue
            if all(self.through(n, k, recorded) for n in self.near[key]):
                out.setdefault(k + 1, []).append(key)
        return out

    def state_after(self, k: int) -> tuple[list[dict], set[str]]:
        """Every cell's specs after round k, and their run ids."""
        specs = [s for c in self.cells.values() for s in c.specs[: c.seeds_after(k)]]
        return specs, {s["run_id"] for s in specs}

    def judge(self, k: int, runs: pd.DataFrame, histories: pd.DataFrame) -> tuple[list[ClaimResult], list[dict]]:
        """The claims judged on every cell's seeds after round k (as strict rounds judge before round k+1)."""
        specs, ids = self.state_after(k)
        cut = histories[histories["run_id"].isin(ids)] if "run_id" in histories else histories
        return evaluate(self.claims, runs[runs["run_id"].isin(ids)], cut, self.axes), specs

    def decide(self, recorded: set[str], runs: pd.DataFrame, histories: pd.DataFrame) -> list[tuple[int, dict, list]]:
        """(round, the cell's entry for sweep.json, its new specs) of every cell that could decide and added
        seeds; a cell that could and added none is marked so (settled until a neighbour's count changes)."""
        out = []
        while due := self.due(recorded):
            for k, keys in sorted(due.items()):
                judged, specs = self.judge(k - 1, runs, histories)
                wanted = wanted_cells(judged, specs, self.max_seeds, self.looks, self.by_look)
                for key in keys:
                    cell = self.cells[key]
                    cell.judged_on = {n: self.cells[n].seeds_after(k - 1) for n in [key, *self.near[key]]}
                    cell.added = key in wanted
                    cell.evidence = wanted[key].evidence if cell.added else []
                    if cell.added:
                        entry, new = round_entry(wanted[key], self.axes, self.conf_dir, self.composer)
                        cell.specs += new
                        cell.entries[k] = entry
                        out.append((k, entry, new))
                    cell.after.append(len(cell.specs))
        return out

    def forecast(self, prior_weight: float = 2.0) -> list[tuple[dict, float, float]]:
        """(a spec of the cell, seeds it may still add, rounds it may still go on) of each cell a check reads
        that has not settled (the progress bar's ETA counts them: nnscratch.run.progress). A cell that added
        seeds expects stats.seeds_to_come after the look they go to, from the pass counts that made it add
        them (the check that foresees the most), its pass rate's law fitted to every such count of the sweep
        (stats.pass_rate_prior). A cell not decided yet expects one more round, to the mean final seed count
        of the read cells settled so far, counting `prior_weight` cells at halfway between the grid's seeds
        and max_seeds."""
        settled = [len(self.cells[k].specs) for k in self.read if self.settled(k)]
        halfway = (sum(c.after[0] for c in self.cells.values()) / len(self.cells) + self.max_seeds) / 2
        expected = (prior_weight * halfway + sum(settled)) / (prior_weight + len(settled))
        prior = pass_rate_prior(tuple(sorted(e for c in self.cells.values() for e in c.evidence)))
        out = []
        for key in self.read:
            cell = self.cells[key]
            if not self.settled(key):
                seeds, rounds = self.seeds_ahead(key, prior) if cell.round else (expected - len(cell.specs), 1.0)
                out += [(cell.specs[0], seeds, rounds)] if seeds > 0 else []
        return out

    def seeds_ahead(self, key: str, prior: tuple[float, float]) -> ToCome:
        """What a cell that added seeds expects after those (stats.seeds_to_come, the most of its checks';
        nothing for a cell with no evidence)."""
        return max((seeds_to_come(p, n, self.test, prior) for p, n in self.cells[key].evidence), default=ToCome(0, 0))

    def done(self) -> bool:
        return all(self.settled(k) for k in self.cells)

    def rounds_record(self, runs: pd.DataFrame, histories: pd.DataFrame) -> list[dict]:
        """The rounds as strict rounds record them: round k's cells, with the verdicts before and after it."""
        last = max((k for c in self.cells.values() for k in c.entries), default=0)
        judged = [verdicts(self.judge(k, runs, histories)[0]) for k in range(last + 1)]
        return [
            {
                "round": k,
                "verdicts_before": judged[k - 1],
                "cells": [c.entries[k] for c in self.cells.values() if k in c.entries],
                "verdicts_after": judged[k],
            }
            for k in range(1, last + 1)
        ]

    def stopped(self, runs: pd.DataFrame, histories: pd.DataFrame) -> str:
        return stop_reason(self.judge(10**9, runs, histories)[0], self.max_seeds)
