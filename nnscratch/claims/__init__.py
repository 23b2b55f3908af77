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


The modules, in the order a check reads them: selection (runs and margins), design (the looks and
confidence), cells (decisions and statistics per cell), wording (numbers in words), verdicts (the claims
judged); files reads the claims files. Nothing here trains or plots: the report and the sweep's adaptive
seeds both read it.
"""

from nnscratch.claims.cells import (
    CELL_STATS,
    DECISIONS,
    FAILS,
    HOLDS,
    OPEN,
    SPLIT,
    UNDECIDED,
    Judging,
    cell_name,
    cell_row,
    cell_statistics,
    check_decisions,
    seeds_needed,
)
from nnscratch.claims.design import DEFAULT_CONFIDENCE, confidence, design, design_for
from nnscratch.claims.files import DEFAULT_CLAIMS, claims_digest, claims_for, for_dataset, load_claims
from nnscratch.claims.selection import as_list, select
from nnscratch.claims.verdicts import CheckResult, ClaimResult, evaluate, undecided_runs
from nnscratch.claims.wording import METHOD, family_text, margin_text, method_text

__all__ = [
    "CELL_STATS",
    "DECISIONS",
    "DEFAULT_CLAIMS",
    "DEFAULT_CONFIDENCE",
    "FAILS",
    "HOLDS",
    "METHOD",
    "OPEN",
    "SPLIT",
    "UNDECIDED",
    "CheckResult",
    "ClaimResult",
    "Judging",
    "as_list",
    "cell_name",
    "cell_row",
    "cell_statistics",
    "check_decisions",
    "claims_digest",
    "claims_for",
    "confidence",
    "design",
    "design_for",
    "evaluate",
    "family_text",
    "for_dataset",
    "load_claims",
    "margin_text",
    "method_text",
    "seeds_needed",
    "select",
    "undecided_runs",
]
