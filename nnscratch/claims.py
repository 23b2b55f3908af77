"""The learning log's claims (conf/claims.yaml) checked against a sweep's results, with stated confidence.

A check selects runs, computes a measure per run (or per pair of twin runs), and compares it with a
threshold fixed in the claims file. A run's *margin* is its measure minus the threshold, signed so
that a positive margin passes. Runs are grouped into cells (every axis but the seed); a contrast's
margin is the paired difference of twin runs (same seed, same other axes) minus the threshold. A cell

    holds       some prefix of its seeds (seeds in order) crossed the sequential t boundary of the
                claims file's design (nnscratch.stats) on the passing side
    fails       ... on the failing side
    split       its seeds' run outcomes differ (some collapsed, some not): never decided by the mean
    undecided   otherwise: no crossing yet, fewer seeds than the first look, or seeds with no spread

A cell whose seeds all give the same value is decided by that value only where the claims file declares
the measure seed-independent (`seed_independent:`) and every seed confirms it. A check with `rate: r`
is a claim about seeds ("at least r of seeds pass"), decided by Clopper–Pearson bounds. Every cell
reports how many seeds failed and the exact bound on the failure rate. When the cells of a check do
not all agree, only decisions Holm's step-down keeps across the cells are counted (the conditional
split, "k of n cells hold"). The claim's verdict comes from its first check: supported (every cell
holds), refuted (every cell fails), conditional (some hold, some fail, none open: named by the axis that
separates them), inconclusive (no runs, or a cell undecided or split; it names those cells and about
how many seeds would decide each at the spread observed).

Nothing here trains or plots: the report and the sweep's adaptive seeds both read it.
"""

from __future__ import annotations

import hashlib
import math
import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from nnscratch.paths import CONF_DIR
from nnscratch.results import SEED
from nnscratch.stats import (
    SAME,
    BinomialDesign,
    binomial_crossing,
    binomial_design,
    clopper_pearson,
    futile,
    futility_text,
    holm,
    looks_reachable,
    next_look,
    no_spread,
    spending_name,
)

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
STRICT = {"<", ">"}
DEFAULT_CONFIDENCE = 0.95
DEFAULT_CLAIMS = CONF_DIR / "claims.yaml"
CELL_STATS = (
    "mean", "margin", "low", "high", "sd", "seeds", "failed", "fail_rate_low", "fail_rate_high", "outcomes",
    "alone", "p", "decision", "basis", "seeds_needed", "best", "margins", "run_ids",
    "median", "passed", "judged", "beyond", "pass_rate_all", "independence", "futility",
)  # fmt: skip

METHOD = (
    "The guarantee, for any law the seeds can follow (no normality, no bound on skew or outliers): a check "
    "states whether more than half of a cell's seeds pass (its median margin is on the passing side; a check "
    "with rate r: more than r of seeds pass). A seed's pass is a coin whose chance p is whatever the seeds' law "
    "gives, so an exact binomial test needs nothing else: for a cell whose p is exactly on the line, the "
    "chance that it is ever called 'holds' or 'fails' is at most {error:.3f} (exact, computed, not simulated), "
    "at every look and however many rounds of seeds are added or resumes made; on either side of the line the "
    "chance of the wrong call is smaller. How: a run's margin is its measure minus the check's threshold, "
    "signed so that positive passes (a contrast: the paired difference of twin runs on the same seed). A "
    "cell's seeds, in the order they were added (seed numbers only grow), are tested only at the seed counts "
    "{looks} fixed in the claims file before any seed ran ({spending} error spending, each side at most "
    "{side:.3f}): a cell holds when {holds}, fails when {fails}. Seeds past the last look ({last}) are reported, "
    "not judged. The interval shown beside the mean margin is a plain Student t interval: it assumes normal "
    "seeds and decides nothing. A seed-independent declaration is believed only when two of the cell's seeds "
    "have identical full histories; then its single value decides. Counts of cells and conditional splits keep "
    "only the decisions that Holm's step-down keeps across the check's cells; supported and refuted need every "
    "cell on its own. Each claim's error is its own (no correction across claims): over m claims, the chance "
    "that some verdict is wrong is at most m times {error:.3f} (union bound)."
)


def method_text(test: BinomialDesign) -> str:
    """METHOD filled in with the design's numbers."""
    holds = [f"{u} of {n} pass" for n, u in zip(test.looks, test.upper) if u <= n]
    fails = [f"{low} or fewer of {n} pass" for n, low in zip(test.looks, test.lower) if low >= 0]
    return METHOD.format(
        error=test.error,
        last=test.last,
        looks=", ".join(map(str, test.looks)),
        spending=test.spending,
        side=(1 - test.level) / 2,
        holds=" or ".join(holds) or "never",
        fails=" or ".join(fails) or "never",
    )


def family_text(error: float, claims: int) -> str:
    """What each claim's error means for the file's claims together (no correction across claims)."""
    bound = min(1.0, claims * error)
    return (
        f"each of the {claims} claims' verdicts is wrong with chance ≤ {error:.3f} on its own; that some of the "
        f"{claims} is wrong: ≤ {bound:.2f} (union bound), {1 - (1 - error) ** claims:.2f} if independent"
    )


@dataclass
class CheckResult:
    """One check's verdict, the reason in words, and its numbers per cell (columns: the cell's axes,
    then CELL_STATS)."""

    what: str
    verdict: str
    reason: str
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    measure: str = "measure"
    guarantee: str = ""  # what a decision of this check states and its error, in one line

    def counts(self) -> dict[str, int]:
        found = self.cells["decision"].value_counts() if not self.cells.empty else {}
        return {d: int(found.get(d, 0)) for d in ("holds", "fails", "undecided", "split")}


@dataclass
class ClaimResult:
    id: str
    title: str
    log: str
    checks: list[CheckResult]
    family: str = ""  # what this claim's error means beside the file's other claims
    exploratory: bool = False  # judged by a claims file other than the one the sweep recorded

    @property
    def verdict(self) -> str:
        return self.checks[0].verdict

    @property
    def guarantee(self) -> str:
        """What the verdict states and its error, e.g. 'rate of passing seeds vs 0.5, any law ..., ≤ 0.043'."""
        label = "EXPLORATORY (claims file differs from the sweep's): " if self.exploratory else ""
        return label + self.checks[0].guarantee


def load_claims(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def claims_for(record: dict, conf_dir: Path = CONF_DIR) -> Path:
    """The claims file a sweep is judged by: its grid's `claims:` (a file in the conf folder), else
    conf/claims.yaml."""
    return Path(conf_dir) / record["claims"] if record.get("claims") else Path(conf_dir) / DEFAULT_CLAIMS.name


def claims_digest(path: Path) -> str:
    """SHA-256 of a claims file's bytes: a sweep's adaptive rounds are bound to the file they used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- selecting runs


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def select(runs: pd.DataFrame, where: dict) -> pd.DataFrame | None:
    """Runs matching {axis: value(s)}; None when the sweep lacks one of the axes."""
    if any(axis not in runs.columns for axis in where):
        return None
    mask = np.ones(len(runs), bool)
    for axis, values in where.items():
        mask &= runs[axis].astype(str).isin([str(v) for v in as_list(values)])
    return runs[mask]


def for_dataset(claims: dict, dataset: str) -> dict:
    """The claims with the log's subsets in their selections (data.subset: 60000, 5000) replaced by their
    equivalents on `dataset`, as the file's `subsets:` declares ({dataset: {log's subset: its own}}), so
    that one file judges every grid; unchanged when it declares none for the dataset."""
    mapping = (claims.get("subsets") or {}).get(dataset)
    if not mapping:
        return claims

    def swap(where: dict) -> dict:
        if "data.subset" not in where:
            return where
        values = [mapping.get(v, v) for v in as_list(where["data.subset"])]
        return where | {"data.subset": values if isinstance(where["data.subset"], list) else values[0]}

    def check(c: dict) -> dict:
        return c | {k: swap(c[k]) for k in ("select", "a", "b") if k in c}

    return claims | {"claims": [c | {"checks": [check(x) for x in c["checks"]]} for c in claims["claims"]]}


def at_iteration(runs: pd.DataFrame, histories: pd.DataFrame, iteration: int) -> pd.DataFrame:
    """The runs' axes joined with their history row at `iteration` (runs that never got there drop out)."""
    rows = histories[histories["iteration"] == iteration]
    keep = [c for c in runs.columns if c not in rows.columns or c == "run_id"]
    return runs[keep].merge(rows, on="run_id")


def threshold(expr, frame: pd.DataFrame, named: dict) -> pd.Series:
    """A check's value per run: a number, a named expression (e.g. collapse) or an expression."""
    if isinstance(expr, int | float):
        return pd.Series(float(expr), index=frame.index)
    return frame.eval(named.get(expr, expr))


def signed(measure: pd.Series, value: pd.Series, op: str) -> pd.Series:
    """Margin: how far the measure is on the passing side of the value."""
    return measure - value if op in (">=", ">") else value - measure


# ---------------------------------------------------------------- per-run margins


def per_run(check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str]):
    """The runs (or twin pairs) looked at, with columns measure, margin and run_ids; None if there are none."""
    source = runs if "at" not in check else at_iteration(runs, histories, check["at"])
    op = check.get("op", ">=")
    if check["kind"] == "threshold":
        frame = select(source, check["select"])
        if frame is None or frame.empty:
            return None
        frame = frame.assign(measure=frame.eval(check["measure"]), run_ids=frame["run_id"].map(lambda r: [r]))
    elif check["kind"] == "contrast":
        frame = contrast(check, source, axes)
    elif check["kind"] == "reach":
        frame = reach(check, runs, histories)
        op = ">="
    else:
        raise ValueError(f"unknown check kind {check['kind']!r} (allowed: threshold, contrast, reach)")
    if frame is None:
        return None
    return frame.assign(margin=signed(frame["measure"], threshold(check["value"], frame, named), op))


def contrast(check: dict, source: pd.DataFrame, axes: list[str]) -> pd.DataFrame | None:
    """Each run of selection `a` paired with its twin in `b`: same seed and same other axes."""
    a, b = select(source, check["a"]), select(source, check["b"])
    if a is None or b is None or a.empty or b.empty:
        return None
    differing = [k for k in check["a"] if str(check["a"][k]) != str(check["b"].get(k))]
    axes = [c for c in axes if c in source.columns and c not in differing]
    b = b.rename(columns={c: f"b_{c}" for c in b.columns if c not in axes})
    pairs = a.merge(b, on=axes)
    if pairs.empty:
        return None
    return pairs.assign(
        measure=pairs.eval(check["measure"].replace("b.", "b_")),
        run_ids=[[x, y] for x, y in zip(pairs["run_id"], pairs["b_run_id"])],
    )


def reach(check: dict, runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame | None:
    """Per run, the highest value of the measure within `within` iterations (measure) and the first
    iteration at which it reached `value` (first; NaN if never)."""
    frame = select(runs, check["select"])
    if frame is None or frame.empty:
        return None
    mine = histories[histories["run_id"].isin(frame["run_id"]) & (histories["iteration"] <= check["within"])]
    values = mine.assign(m=mine.eval(check["measure"]))
    best = values.groupby("run_id")["m"].max()
    first = values[values["m"] >= check["value"]].groupby("run_id")["iteration"].min()
    return frame.assign(
        measure=frame["run_id"].map(best),
        first=frame["run_id"].map(first),
        run_ids=frame["run_id"].map(lambda r: [r]),
    )


# ---------------------------------------------------------------- cells: boundary, outcomes, decisions

HOLDS, FAILS, UNDECIDED, SPLIT = 1, -1, 0, 2
DECISIONS = {HOLDS: "holds", FAILS: "fails", UNDECIDED: "undecided", SPLIT: "split"}
OPEN = ("undecided", "split")  # decisions that more seeds may change: adaptive rounds feed these cells
DEFAULT_DESIGN = {"looks": [3, 6, 10], "spending": {"power": 0.5}, "futility": None}
DESIGN_EXAMPLE = "sequential: {looks: [3, 6, 10], spending: {power: 0.5}}"
MOST = 0.5  # a check without `rate:` states that more than half of seeds pass


def design(claims: dict) -> BinomialDesign:
    """The claims file's exact binomial design (`sequential: {looks, spending}`) at its confidence, for
    'more than half of seeds pass'; a check's own `rate:` uses the same looks and spending (design_for).
    The older form {first_look: a, max_seeds: b} looks at every seed count a..b."""
    given = claims.get("sequential") or {}
    if "looks" not in given and {"first_look", "max_seeds"} & set(given):
        first, last = given.get("first_look", 3), given.get("max_seeds", 20)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (first, last)) or not 2 <= first <= last:
            raise ValueError(
                f"claims file: sequential needs whole numbers 2 <= first_look <= max_seeds, got {first!r}, {last!r}"
                f" (or looks fixed in advance: {DESIGN_EXAMPLE})"
            )
        given = {"looks": list(range(first, last + 1)), "spending": DEFAULT_DESIGN["spending"]}
    given = DEFAULT_DESIGN | given
    looks = given["looks"]
    if not (isinstance(looks, list) and looks and all(isinstance(n, int) and not isinstance(n, bool) for n in looks)):
        raise ValueError(f"claims file: sequential.looks must list seed counts, not {looks!r}: {DESIGN_EXAMPLE}")
    below, effect = futility_stop(given["futility"])
    return binomial_design(confidence(claims), tuple(looks), spending_name(given["spending"]), MOST, below, effect)


def futility_stop(given) -> tuple[float | None, float]:
    """`sequential.futility` ({below: chance, effect: sds}, a bare chance, or null) as (below, effect)."""
    stop = given if isinstance(given, dict) else {"below": given}
    number = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
    if set(stop) - {"below", "effect"} or not (stop.get("below") is None or number(stop["below"])):
        raise ValueError(f"claims file: sequential.futility must be {{below: 0.1, effect: 1.4}} or null, not {given!r}")
    if not (number(stop.get("effect", 1.4)) and stop.get("effect", 1.4) > 0):
        raise ValueError(f"claims file: sequential.futility.effect must be a positive number of sds, not {given!r}")
    below = stop.get("below")
    return (None if below is None else float(below)), float(stop.get("effect", 1.4))


def design_for(check: dict, base: BinomialDesign) -> BinomialDesign:
    """The design of one check: the file's looks and spending at the check's `rate:` (default: most seeds)."""
    rate = check.get("rate")
    if rate is None:
        return base
    if not (isinstance(rate, int | float) and 0 < rate < 1):
        raise ValueError(f"claims file: check '{check['what']}': rate must be between 0 and 1 (e.g. 0.9), got {rate!r}")
    return binomial_design(base.level, base.looks, base.spending, float(rate), base.futility, base.effect)


def interval(margins: np.ndarray, level: float) -> tuple[float, float]:
    """A descriptive Student t interval of the mean margin (it assumes normal seeds and decides nothing);
    unbounded below two seeds or when the seeds have no spread."""
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


def history_of(histories: pd.DataFrame, run_id: str) -> pd.DataFrame:
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
        found = history_difference(history_of(histories, x), history_of(histories, y))
        if found:
            return False, (
                f"declared seed-independent, refused: seeds {first.get(SEED, '?')} and {second.get(SEED, '?')} "
                f"differ ({x} vs {y}: {found})"
            )
    seeds = f"seeds {first.get(SEED, '?')} and {second.get(SEED, '?')}"
    return True, f"seed-independent (declared; confirmed: {seeds} have identical histories)"


def alone(margins: np.ndarray, strict: bool, independent: str | None, test: BinomialDesign):
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
    """Why a cell that a look could still decide gets no more seeds ('' when it is not stopped for futility)."""
    ok = passes(margins[: test.last], strict)
    look = int(test.look_at(len(ok)))
    at_look = int(ok[:look].sum())
    if looks_reachable(int(ok.sum()), len(ok), test) is None or not futile(at_look, look, test)[0]:
        return ""
    return futility_text(at_look, look, test)


def cell_row(group: pd.DataFrame, check: dict, test: BinomialDesign, strict: bool, histories: pd.DataFrame) -> dict:
    group = group.sort_values(SEED) if SEED in group.columns else group
    margins = group["margin"].to_numpy(float)
    n, outcomes = len(margins), seed_outcomes(group)
    low, high = interval(margins, test.level)
    sd = float(np.std(margins, ddof=1)) if n > 1 else float("nan")
    evidence = independence_checked(group, histories) if declared_independent(check, group) else (False, "")
    code, p, basis = alone(margins, strict, evidence[1] if evidence[0] else None, test)
    if evidence[1] and not evidence[0]:
        basis += f" ({evidence[1]})"
    failed = int((~passes(margins, strict)).sum())
    fail_low, fail_high = clopper_pearson(failed, n, test.level)
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
        "seeds_needed": seeds_needed(margins, strict, test) if code == UNDECIDED else None,
        "futility": futility_reason(margins, strict, test) if code == UNDECIDED else "",
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


def cell_table(
    frame: pd.DataFrame, axes: list[str], check: dict, test: BinomialDesign, strict: bool, histories: pd.DataFrame
) -> pd.DataFrame:
    """One row per cell (the axes that vary within the check's runs, seed excluded) with CELL_STATS. A cell
    with more seeds than the design's last look is judged on its first `last` seeds (in seed order); the
    rest are counted in `beyond` and `pass_rate_all`, descriptively."""
    keys = [a for a in axes if a != SEED and a in frame.columns and frame[a].nunique(dropna=False) > 1]
    groups = [((), frame)] if not keys else list(frame.groupby(keys, dropna=False))
    rows = []
    for key, group in groups:
        where = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        rows.append(where | cell_row(group, check, test, strict, histories))
    cells = pd.DataFrame(rows)
    codes = cells["alone"].map({v: k for k, v in DECISIONS.items()}).to_numpy()
    final = check_decisions(codes[None, :], cells["p"].to_numpy(float)[None, :], test.level)[0]
    return cells.assign(decision=[DECISIONS[c] for c in final])


def cell_name(cells: pd.DataFrame, i: int) -> str:
    keys = [c for c in cells.columns if c not in CELL_STATS]
    return ", ".join(f"{k}={cells.at[i, k]}" for k in keys) or "the only cell"


# ---------------------------------------------------------------- verdicts


def separating_axis(cells: pd.DataFrame, holds: pd.Series) -> str | None:
    """'holds for A=x; not for A=y' if one axis's levels split the cells cleanly, else None."""
    for axis in [c for c in cells.columns if c not in CELL_STATS]:
        by_level = holds.groupby(cells[axis].astype(str)).agg(["all", "any"])
        if ((by_level["all"]) | (~by_level["any"])).all() and by_level["all"].any() and not by_level["all"].all():
            yes = ", ".join(by_level.index[by_level["all"]])
            no = ", ".join(by_level.index[~by_level["any"]])
            return f"holds for {axis} = {yes}; not for {axis} = {no}"
    return None


def margin_text(cells: pd.DataFrame, i: int) -> str:
    low, high = cells.at[i, "low"], cells.at[i, "high"]
    span = "no interval" if not np.isfinite(low) else f"[{low:+.3g}, {high:+.3g}]"
    median = f"median margin {cells.at[i, 'median']:+.3g}, " if "median" in cells.columns else ""
    text = f"{median}margin {cells.at[i, 'margin']:+.3g} {span}; {outcome_text(cells, i)}"
    if "beyond" in cells.columns and cells.at[i, "beyond"] > 0:
        text += (
            f"; judged on its first {cells.at[i, 'judged']} seeds (the design's last look), the "
            f"{cells.at[i, 'beyond']} seeds past it reported only: {cells.at[i, 'pass_rate_all']:.0%} of all "
            f"{cells.at[i, 'seeds']} seeds pass"
        )
    return text


def outcome_text(cells: pd.DataFrame, i: int) -> str:
    """What the seeds rule out, e.g. '0 of 3 seeds failed (failure rate <= 0.71); outcomes: collapsed 3'."""
    k, n = int(cells.at[i, "failed"]), int(cells.at[i, "seeds"])
    low, high = cells.at[i, "fail_rate_low"], cells.at[i, "fail_rate_high"]
    bound = f"failure rate ≤ {high:.2f}" if k == 0 else f"failure rate {low:.2f}–{high:.2f}"
    return f"{k} of {n} seeds failed ({bound}); outcomes: {cells.at[i, 'outcomes']}"


def undecided_text(cells: pd.DataFrame) -> str:
    """The check's undecided or split cells, grouped by why they are open: each reason is said once,
    then its cells with their numbers (said once too when every cell of the reason has the same)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for i in cells.index[cells["decision"].isin(OPEN)]:
        needed = cells.at[i, "seeds_needed"]
        guess = (
            cells.at[i, "futility"] or "no look of the design can decide it any more, whatever the next seeds give"
            if needed is None or pd.isna(needed)
            else f"a decision is still possible at {int(needed)} seeds"
        )
        why = cells.at[i, "basis"] if cells.at[i, "alone"] in OPEN else "not kept by Holm across the cells"
        numbers = f"{margin_text(cells, i)}; {cells.at[i, 'seeds']} seeds; {guess}"
        groups.setdefault(f"{cells.at[i, 'decision']}: {why}", []).append((cell_name(cells, i), numbers))
    return "; ".join(f"{why} — {cells_said(found)}" for why, found in groups.items())


def cells_said(found: list[tuple[str, str]]) -> str:
    """'a (numbers); b (numbers)', or 'n cells, each numbers: a · b' when their numbers are the same."""
    if len(found) > 1 and len({numbers for _, numbers in found}) == 1:
        return f"{len(found)} cells, each {found[0][1]}: " + " · ".join(name for name, _ in found)
    return "; ".join(f"{name} ({numbers})" for name, numbers in found)


def verdict(cells: pd.DataFrame) -> tuple[str, str]:
    """(verdict, reason) from the cell table."""
    d = cells["decision"]
    n = len(cells)
    if d.isin(OPEN).any():
        return "inconclusive", f"{d.isin(OPEN).sum()} of {n} cells undecided or split: {undecided_text(cells)}"
    weakest = cells["margin"].idxmin() if (d == "holds").all() else cells["margin"].idxmax()
    if (d == "holds").all():
        return (
            "supported",
            f"holds in all {n} cells; weakest: {cell_name(cells, weakest)}, {margin_text(cells, weakest)}",
        )
    if (d == "fails").all():
        return "refuted", f"fails in all {n} cells; closest: {cell_name(cells, weakest)}, {margin_text(cells, weakest)}"
    holds = (d == "holds").reset_index(drop=True)
    why = separating_axis(cells.reset_index(drop=True), holds)
    return "conditional", why or f"holds in {holds.sum()} of {n} cells, fails in {n - holds.sum()}"


def run_check(
    check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str], base: BinomialDesign
) -> CheckResult:
    frame = per_run(check, runs, histories, named, axes)
    if frame is None or frame["margin"].isna().all():
        return CheckResult(check["what"], "inconclusive", "the sweep has no runs for this check")
    frame = frame[frame["margin"].notna()]
    strict = check.get("op", ">=") in STRICT and check["kind"] != "reach"
    test = design_for(check, base)
    cells = cell_table(frame, [a for a in axes if a in frame.columns], check, test, strict, histories)
    label = check["measure"] + (f" at iteration {check['at']}" if "at" in check else "")
    if check["kind"] == "reach":
        label = f"highest {check['measure']} within {check['within']} iterations (target {check['value']})"
    result = CheckResult(check["what"], *verdict(cells), cells, label, test.guarantee())
    if check["kind"] == "reach":
        reached = frame["first"].dropna()
        result.reason += f"; {len(reached)} of {len(frame)} runs reached {check['value']}" + (
            f" (first at iteration {int(reached.min())})" if len(reached) else ""
        )
    return result


def confidence(claims: dict) -> float:
    level = float(claims.get("confidence", DEFAULT_CONFIDENCE))
    if not 0 < level < 1:
        raise ValueError(f"claims file: confidence must be between 0 and 1 (e.g. 0.95), got {level}")
    return level


def evaluate(claims: dict, runs: pd.DataFrame, histories: pd.DataFrame, axes: list[str]) -> list[ClaimResult]:
    """Every claim of the claims file against one sweep's runs (results.csv) and histories."""
    runs = runs[runs["status"] == "finished"]
    base = design(claims)
    named = {k: v for k, v in claims.items() if isinstance(v, str)}  # named expressions, e.g. collapse
    family = family_text(base.error, len(claims["claims"]))
    return [
        ClaimResult(
            c["id"],
            c["title"],
            c.get("log", ""),
            [run_check(ch, runs, histories, named, axes, base) for ch in c["checks"]],
            family,
            bool(claims.get("exploratory")),
        )
        for c in claims["claims"]
    ]


def undecided_runs(results_: list[ClaimResult]) -> list[tuple[str, str, list[str], int | None]]:
    """(claim id, the check and cell in words, run ids feeding it, seeds estimated to decide it) of every
    undecided or split cell of every check."""
    out = []
    for claim in results_:
        for check in claim.checks:
            if check.cells.empty:
                continue
            for i in check.cells.index[check.cells["decision"].isin(OPEN)]:
                needed = check.cells.at[i, "seeds_needed"]
                needed = None if needed is None or pd.isna(needed) else int(needed)
                out.append(
                    (claim.id, f"{check.what}: {cell_name(check.cells, i)}", check.cells.at[i, "run_ids"], needed)
                )
    return out
