"""A check's cells (its runs grouped by every axis but the seed), each decided on its own by the exact
binomial test of the design, then across the cells by Holm's step-down; the statistics of each cell."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnscratch.claims.selection import select
from nnscratch.results import SEED
from nnscratch.stats import (
    SAME,
    BinomialDesign,
    binomial_crossing,
    clopper_pearson,
    futility_text,
    holm,
    looks_reachable,
    next_look,
    no_spread,
)

CELL_STATS = (
    "mean", "margin", "low", "high", "sd", "seeds", "failed", "fail_rate_low", "fail_rate_high", "outcomes",
    "alone", "p", "decision", "basis", "seeds_needed", "best", "margins", "run_ids",
    "median", "passed", "judged", "beyond", "pass_rate_all", "independence", "futility",
)  # fmt: skip


HOLDS, FAILS, UNDECIDED, SPLIT = 1, -1, 0, 2
DECISIONS = {HOLDS: "holds", FAILS: "fails", UNDECIDED: "undecided", SPLIT: "split"}
OPEN = ("undecided", "split")  # decisions that more seeds may change: adaptive rounds feed these cells


def interval(margins: np.ndarray, level: float) -> tuple[float, float]:
    """A descriptive Student t interval of the mean margin (it assumes normal seeds and decides nothing);
    unbounded below two seeds or when the seeds have no spread."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    n, mean = len(margins), float(np.mean(margins))
    if n < 2 or no_spread(margins):
        return -math.inf, math.inf
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * float(np.std(margins, ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def passes(margins: np.ndarray, strict: bool) -> np.ndarray:
    """Each seed's margin on the passing side (> 0 for a strict op, else >= 0)."""
    return margins > 0 if strict else margins >= 0


def seed_outcomes(group: pd.DataFrame) -> pd.Series:
    """Each seed's run outcome (ok / collapsed / diverged); for a contrast both sides', 'a / b'."""
    if "outcome" not in group.columns:
        return pd.Series("ok", index=group.index)
    out = group["outcome"].astype(str)
    return out + " / " + group["b_outcome"].astype(str) if "b_outcome" in group.columns else out


def declared_independent(check: dict, group: pd.DataFrame) -> bool:
    """The claims file declares this cell's measure seed-independent (`seed_independent: true`, or a
    selection {axis: value(s)} its runs all match)."""
    where = check.get("seed_independent")
    if where is None or where is False:
        return False
    if where is True:
        return True
    chosen = select(group, where)
    return chosen is not None and len(chosen) == len(group)


def run_history(histories: pd.DataFrame, run_id: str) -> pd.DataFrame:
    if "run_id" not in histories.columns:
        return pd.DataFrame()
    mine = histories[histories["run_id"] == run_id]
    return mine.drop(columns=["run_id"]).sort_values("iteration").reset_index(drop=True)


def history_difference(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    """Where two runs' full histories differ (beyond float rounding), in words; None when identical."""
    if a.empty or b.empty:
        return "no history recorded"
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return f"histories of different shapes ({a.shape[0]} and {b.shape[0]} rows)"
    for col in a.columns:
        x, y = (pd.to_numeric(h[col], errors="coerce").to_numpy(float) for h in (a, b))
        same = np.isclose(x, y, rtol=SAME, atol=0, equal_nan=True)
        if not same.all():
            i = int(np.argmin(same))
            return f"{col} at iteration {a['iteration'].iloc[i]}: {x[i]:.6g} vs {y[i]:.6g}"
    return None


def independence_checked(group: pd.DataFrame, histories: pd.DataFrame) -> tuple[bool, str]:
    """A declared seed-independent cell is believed only if two of its seeds have identical full histories
    (every run of a contrast's pair too): (confirmed, the evidence in words)."""
    if len(group) < 2:
        return False, "declared seed-independent, not confirmed: one seed, two are needed to compare histories"
    first, second = group.iloc[0], group.iloc[1]
    for x, y in zip(first["run_ids"], second["run_ids"]):
        found = history_difference(run_history(histories, x), run_history(histories, y))
        if found:
            return False, (
                f"declared seed-independent, refused: seeds {first.get(SEED, '?')} and {second.get(SEED, '?')} "
                f"differ ({x} vs {y}: {found})"
            )
    seeds = f"seeds {first.get(SEED, '?')} and {second.get(SEED, '?')}"
    return True, f"seed-independent (declared; confirmed: {seeds} have identical histories)"


def decision_before_holm(margins: np.ndarray, strict: bool, independent: str | None, test: BinomialDesign):
    """(decision code, p-value, basis) of one cell before Holm. `independent`: the confirmed evidence when
    the cell is declared and shown seed-independent (then its value decides), else None."""
    if independent and no_spread(margins):  # a deterministic measure: its single value is the truth
        code = HOLDS if passes(margins[:1], strict)[0] else FAILS
        return code, 0.0, independent
    judged = margins[: test.last]  # seeds past the design's last look are reported, not judged
    cross = binomial_crossing(passes(judged, strict)[None, :], test)
    basis = f"exact binomial test: {test.statement()}"
    return int(cross.direction[0, -1]), float(cross.p[0, -1]), basis


def seeds_needed(margins: np.ndarray, strict: bool, test: BinomialDesign) -> int | None:
    """The next look at which this cell can still be decided (if the seeds to come all pass, or all fail);
    None when no look of the design can decide it any more, or its last look stops it for futility."""
    ok = passes(margins[: test.last], strict)
    found = next_look(ok.sum(), len(ok), ok[: test.look_at(len(ok))].sum(), test)[0]
    return None if np.isnan(found) else int(found)


def futility_reason(margins: np.ndarray, strict: bool, test: BinomialDesign) -> str:
    """Why a cell that gets no more seeds (seeds_needed is None) gets none although a look could still decide
    it: its last look stopped it for futility ('' when no look can decide it any more)."""
    ok = passes(margins[: test.last], strict)
    if looks_reachable(int(ok.sum()), len(ok), test) is None:
        return ""
    look = int(test.look_at(len(ok)))
    return futility_text(int(ok[:look].sum()), look, test)


@dataclass(frozen=True)
class Judging:
    """How a check judges each of its cells: the check as the claims file writes it, its sequential
    design (`test`) and whether its comparison is strict (a seed passes on margin > 0, else >= 0)."""

    check: dict
    test: BinomialDesign
    strict: bool


def cell_row(group: pd.DataFrame, judging: Judging, histories: pd.DataFrame) -> dict:
    """CELL_STATS of one cell's runs (one row per seed, with its margin and measure), before Holm."""
    check, test, strict = judging.check, judging.test, judging.strict
    group = group.sort_values(SEED) if SEED in group.columns else group
    margins = group["margin"].to_numpy(float)
    n, outcomes = len(margins), seed_outcomes(group)
    low, high = interval(margins, test.level)
    sd = float(np.std(margins, ddof=1)) if n > 1 else float("nan")
    evidence = independence_checked(group, histories) if declared_independent(check, group) else (False, "")
    code, p, basis = decision_before_holm(margins, strict, evidence[1] if evidence[0] else None, test)
    if evidence[1] and not evidence[0]:
        basis += f" ({evidence[1]})"
    failed = int((~passes(margins, strict)).sum())
    fail_low, fail_high = clopper_pearson(failed, n, test.level)
    needed = seeds_needed(margins, strict, test) if code == UNDECIDED else None
    return {
        "mean": float(group["measure"].mean()),
        "margin": float(margins.mean()),
        "low": low,
        "high": high,
        "sd": sd,
        "seeds": n,
        "failed": failed,
        "fail_rate_low": float(fail_low),
        "fail_rate_high": float(fail_high),
        "outcomes": ", ".join(f"{k} {v}" for k, v in outcomes.value_counts().items()),
        "alone": DECISIONS[code],
        "p": p,
        "decision": DECISIONS[code],
        "basis": basis,
        "seeds_needed": needed,
        "futility": futility_reason(margins, strict, test) if code == UNDECIDED and needed is None else "",
        "best": float(group["measure"].max()),
        "margins": [float(x) for x in margins],
        "run_ids": sorted({r for ids in group["run_ids"] for r in ids}),
        "median": float(np.median(margins)),
        "passed": int(passes(margins[: test.last], strict).sum()),
        "judged": min(n, test.last),
        "beyond": max(0, n - test.last),
        "pass_rate_all": float(passes(margins, strict).mean()),
        "independence": evidence[1],
    }


def check_decisions(codes: np.ndarray, p: np.ndarray, level: float) -> np.ndarray:
    """(R, m) decisions of a check's m cells alone -> as reported. When every cell alone holds (or every
    cell fails) each cell was tested at `level` and all must pass: kept. Otherwise the cells are counted
    and split one by one, so a decision stands only if Holm's step-down rejects it at the family level."""
    codes = np.atleast_2d(codes)
    unanimous = (codes == codes[:, :1]).all(axis=1) & np.isin(codes[:, 0], (HOLDS, FAILS))
    decided = np.isin(codes, (HOLDS, FAILS))
    kept = holm(np.where(decided, p, 1.0), level) & decided
    adjusted = np.where(decided & ~kept, UNDECIDED, codes)
    return np.where(unanimous[:, None], codes, adjusted)


def cell_statistics(frame: pd.DataFrame, axes: list[str], judging: Judging, histories: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (the axes that vary within the check's runs, seed excluded) with CELL_STATS. A cell
    with more seeds than the design's last look is judged on its first `last` seeds (in seed order); the
    rest are counted in `beyond` and `pass_rate_all`, descriptively."""
    keys = [a for a in axes if a != SEED and a in frame.columns and frame[a].nunique(dropna=False) > 1]
    groups = [((), frame)] if not keys else list(frame.groupby(keys, dropna=False))
    rows = []
    for key, group in groups:
        where = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        rows.append(where | cell_row(group, judging, histories))
    cells = pd.DataFrame(rows)
    codes = cells["alone"].map({v: k for k, v in DECISIONS.items()}).to_numpy()
    final = check_decisions(codes[None, :], cells["p"].to_numpy(float)[None, :], judging.test.level)[0]
    return cells.assign(decision=[DECISIONS[c] for c in final])


def cell_name(cells: pd.DataFrame, i: int) -> str:
    keys = [c for c in cells.columns if c not in CELL_STATS]
    return ", ".join(f"{k}={cells.at[i, k]}" for k in keys) or "the only cell"
