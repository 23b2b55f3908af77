"""'Fixes tried on the failed runs': from a sweep's repairs.csv (nnscratch.run.repair, one row per try),
per failure mode the runs repaired (no longer failing) and those whose repair is also within the healthy
bar (nnscratch.run.repair_bar), both rates, the tries spent, and which fix repaired how many runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnscratch.report.render import Section

AUTOTRAINER = 98.4  # % of detected problems repaired, as AUTOTRAINER (ICSE 2021) reports it


def repair_rates(table: pd.DataFrame) -> pd.DataFrame:
    """One row per failure mode (the mode the run's repair started from) and one for all: failed runs,
    repaired (no longer failing) and the rate in %, repaired within the healthy bar and that rate, tries
    run, and each fix that worked with the number of runs it repaired (within the bar / in all)."""
    table = table.assign(repaired_within_bar=table.get("repaired_within_bar", False))
    runs = table.groupby("run_id", sort=False).agg(
        mode=("mode", "first"),
        repaired=("repaired", "first"),
        within=("repaired_within_bar", "first"),
        by=("repaired_by", "first"),
        tries=("try", "max"),
    )
    groups = [(mode, g) for mode, g in runs.groupby("mode", sort=False)] + [("all", runs)]
    rows = []
    for mode, g in groups:
        repaired, within = g["repaired"].astype(bool), g["within"].eq(True)
        worked = g.loc[repaired].assign(within=within).groupby("by", sort=False)["within"].agg(["size", "sum"])
        worked = worked.sort_values("size", ascending=False, kind="stable")
        rows.append(
            {
                "failure mode": mode,
                "failed runs": len(g),
                "repaired": int(repaired.sum()),
                "rate %": round(100 * repaired.mean(), 1),
                "within the bar": int(within.sum()),
                "bar rate %": round(100 * within.mean(), 1),
                "tries run": int(g["tries"].sum()),
                "fixes that worked (runs within the bar / repaired)": "; ".join(
                    f"`{fix}` ({int(n_in)}/{n})" for fix, (n, n_in) in worked.iterrows()
                )
                or "—",
            }
        )
    return pd.DataFrame(rows)


def rates_text(table: pd.DataFrame) -> str:
    """The rates as plain text for a terminal."""
    if table.empty:
        return "repair: no failed run to repair"
    return repair_rates(table).to_string(index=False)


def repairs_section(sweep_dir: Path) -> Section | None:
    """The report section, or None when the sweep has no repairs.csv (no repair was run)."""
    path = Path(sweep_dir) / "repairs.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    if table.empty:
        return None
    rates = repair_rates(table)
    overall = rates.iloc[-1]
    text = [
        f"Each failed run of this sweep (collapsed, diverged, or showing a failure mode of conf/diagnoses.yaml) was "
        f"trained again with its mode's fixes, in order, on its own seed and data, until a try was healthy "
        f"(conf/diagnoses.yaml `repaired`) or its tries were spent; a fix that traded the mode for another failure "
        f"was kept under the next mode's fixes. **{overall['repaired']} of {overall['failed runs']} failed runs "
        f"repaired ({overall['rate %']:.1f} %)**, in {overall['tries run']} tries; **{overall['within the bar']} "
        f"({overall['bar rate %']:.1f} %) within the healthy bar**: the repairing try's test accuracy at most the "
        "bar's points (conf/diagnoses.yaml `healthy_bar`, 1 by default) below the healthy reference, the built-in "
        "default config trained on the run's data, subset, seed and the try's iterations (AUTOTRAINER reports "
        f"{AUTOTRAINER} % of the problems it detects repaired, on other models and problems). "
        "The tries are in repairs/ (a sweep folder of their own), every try in repairs.csv.",
    ]
    tries = table.drop(columns=[c for c in ("error",) if c in table])
    return Section(
        "Fixes tried on the failed runs",
        text,
        tables=[("Repair rate per failure mode", rates), ("Every try", tries)],
        level=2,
        anchor="repairs",
        sortable=("Every try",),
    )
