"""What look schedules and futility stops can do for issue 41's targets: for each exact binomial design (at
the claims file's confidence), a cell on its threshold (p = 0.5) and a cell with a 1.4-sd normal effect
(p = Phi(1.4) = 0.919) are played with the engine's rule (benchmarks.calibration.binomial_rule: the claims'
decisions, adaptive.round_target, stats.next_look), every cell starting with 3 seeds and going up to the
design's last look. Only p matters to the binomial rule, so each seed is a coin of chance p.

    python -m benchmarks.design_frontier [replications]

Prints per design: its exact error (the guarantee, any law), a threshold cell's mean seeds and chance of a
(wrong) decision, and the 1.4-sd cell's chance of being decided right and mean seeds; 'meets' marks a design
with error <= 0.05, threshold seeds <= 7.5 and power >= 0.95 (issue 41).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.calibration import Case, binomial_rule
from nnscratch.stats import binomial_design

SCHEDULES = [(3, 6, 10), (3, 6, 9, 12), (3, 6, 10, 14), (3, 6, 10, 15), (3, 6, 9, 12, 15), (3, 6, 9, 12, 16),
             (3, 7, 12, 16), (3, 6, 12, 18), (3, 6, 10, 15, 20)]  # fmt: skip
SPENDING = ("power 0.5", "power 1")
FUTILITY = (None, 0.05, 0.1, 0.2)
EFFECT = 1.4


def played(design, p: float, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes (R,), seeds (R,)) of `reps` single cells whose seeds pass with chance p."""
    coins = np.where(np.random.default_rng(seed).random((reps, design.last)) < p, 1.0, -1.0)
    codes, seeds = binomial_rule(Case("coin"), coins, design, design.last, 3)
    return codes[:, 0], seeds[:, 0]


def frontier(reps: int, level: float = 0.95) -> pd.DataFrame:
    rows = []
    effect = stats.norm.cdf(EFFECT)
    for looks in SCHEDULES:
        for spending in SPENDING:
            for futility in FUTILITY:
                design = binomial_design(level, looks, spending, 0.5, futility, EFFECT)
                edge, edge_seeds = played(design, 0.5, reps, 0)
                right, right_seeds = played(design, effect, reps, 1)
                rows.append(
                    {
                        "looks": str(list(looks)),
                        "spending": spending,
                        "futility": "none" if futility is None else f"{futility:g}",
                        "error (exact)": design.error,
                        "threshold: seeds": edge_seeds.mean(),
                        "threshold: P(decision)": (edge != 0).mean(),
                        "1.4 sd: P(right)": (right == 1).mean(),
                        "1.4 sd: seeds": right_seeds.mean(),
                    }
                )
    table = pd.DataFrame(rows)
    meets = (table["error (exact)"] <= 0.05) & (table["threshold: seeds"] <= 7.5) & (table["1.4 sd: P(right)"] >= 0.95)
    return table.assign(meets=np.where(meets, "yes", ""))


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(f"{reps:,} replications per design and cell, seeds 0 (threshold) and 1 (1.4 sd)")
    print(frontier(reps).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
