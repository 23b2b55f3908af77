"""Are two sweep folders the same numbers? Run for run, results.csv on the columns both have (less
timing and where things were written), and every run's history.csv on the columns and iterations both
have: what a refactoring must leave as it was.

    python -m benchmarks.same_numbers <before folder> <after folder> [--by command]

Runs are matched by run id, or with `--by command` by the command that reproduces them (when a change
of the configs' keys, not of their values, changed the ids).

Exit status 0 when every run of the first is in the second with the same numbers, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nnscratch import results

NOT_NUMBERS = {"seconds", "command", "run_dir", "worker", "mlflow_run_id", "run_id"}


def equal(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element by element, NaN equal to NaN."""
    return (a == b) | (a.isna() & b.isna())


def differences(before: Path, after: Path, by: str = "run_id") -> tuple[list[str], dict]:
    """(every difference found, as lines; counts of what was compared), runs matched on column `by`."""
    ra = results.read_results(before).set_index(by, drop=False)
    rb = results.read_results(after).set_index(by, drop=False)
    missing = sorted(set(ra.index) - set(rb.index))
    out = [f"run {r}: not in {after}" for r in missing]
    ids = [r for r in ra.index if r in rb.index]
    columns = [c for c in ra.columns if c in rb.columns and c not in NOT_NUMBERS]
    same = pd.DataFrame({c: equal(ra.loc[ids, c], rb.loc[ids, c]) for c in columns})
    out += [f"run {r}: results.csv {c}" for c in columns for r in same.index[~same[c]]]
    values = 0
    for r in ids:
        ha, hb = (
            history(results.runs_dir(f) / x.loc[r, "run_id"] / "history.csv") for f, x in ((before, ra), (after, rb))
        )
        if isinstance(ha, str) or isinstance(hb, str):  # damaged: said, and the other runs are compared
            out += [f"run {r}: {h}" for h in (ha, hb) if isinstance(h, str)]
            continue
        shared = [c for c in ha.columns if c in hb.columns]
        both = ha[shared].merge(hb[shared], on="iteration", suffixes=("_a", "_b"))
        if len(both) != len(ha):
            out.append(f"run {r}: history.csv has iterations the second lacks")
        for c in (c for c in shared if c != "iteration"):
            values += len(both)
            if not equal(both[c + "_a"], both[c + "_b"]).all():
                out.append(f"run {r}: history.csv {c}")
    counts = {"runs": len(ids), "columns": len(columns), "history values": values}
    counts["only after"] = sorted(set(rb.columns) - set(ra.columns))
    return out, counts


def history(path: Path) -> pd.DataFrame | str:
    """A run's history.csv, or what is wrong with it (it does not parse, or has no iteration column)."""
    try:
        found = pd.read_csv(path)
    except (OSError, ValueError) as err:  # pandas' parser errors are ValueErrors
        return f"{path} cannot be read as CSV ({type(err).__name__}: {str(err).strip()[:200]})"
    return found if "iteration" in found.columns else f"{path} has no iteration column"


def main(argv: list[str]) -> int:
    by = argv[argv.index("--by") + 1] if "--by" in argv else "run_id"
    before, after = (Path(a) for a in argv if a not in ("--by", by))
    found, counts = differences(before, after, by)
    print("\n".join(found[:50]))
    print(
        f"compared {counts['runs']} runs, {counts['columns']} results.csv columns, "
        f"{counts['history values']:,} history values: {len(found)} differences "
        f"(columns only after: {', '.join(counts['only after']) or 'none'})"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
