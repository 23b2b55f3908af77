"""A sweep directory (or several, differing only in dataset) -> report.md, report.html, figures/, tables/.

Reads everything through `nnscratch.results`; trains nothing. One module per kind of section:
load.py (a sweep folder), verdicts.py (the claims), rounds.py (adaptive rounds), remedies.py,
grid.py (one sweep's sections), compare.py (several datasets); figures.py, tables.py, render.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from nnscratch.claims import claims_digest, claims_for, load_claims
from nnscratch.paths import CONF_DIR
from nnscratch.report.compare import comparison_sections
from nnscratch.report.grid import sweep_sections
from nnscratch.report.load import load_sweep
from nnscratch.report.render import write_html, write_markdown


class ClaimsChanged(ValueError):
    """The claims file differs from the one a sweep recorded before its runs."""


def claims_checked(path: Path, records: list[tuple[Path, dict]], explore: bool) -> dict:
    """The claims file, refused if its SHA-256 differs from the one a sweep recorded before its runs, unless
    `explore`: then every verdict is labelled exploratory."""
    digest = claims_digest(path)
    changed = [(d, r["claims_sha256"]) for d, r in records if r.get("claims_sha256") not in (None, digest)]
    if changed and not explore:
        folder, recorded = changed[0]
        raise ClaimsChanged(
            f"claims file {path} (sha256 {digest[:12]}…) is not the one sweep {folder} recorded before its runs "
            f"(sha256 {recorded[:12]}…): restore it, or re-judge as an exploration with explore=true"
        )
    return load_claims(path) | {"file": path.name, "exploratory": bool(changed)}


def claims_file_of(record: dict, folders: Sequence[Path] = (CONF_DIR,)) -> Path:
    """The claims file a sweep (its sweep.json record) is judged by: the file it fixed before its runs,
    when it still exists, else its grid's `claims:`, else claims.yaml, in the first of the conf `folders`
    holding it (a user's --config-dir before the package's conf/)."""
    recorded = record.get("claims_file")
    return Path(recorded) if recorded and Path(recorded).is_file() else claims_for(record, folders)


def write_report(
    sweep_dirs: list[Path], out_dir: Path | None = None, claims_path: Path | None = None, explore: bool = False
) -> Path:
    """Write the report of one sweep into its folder, or of several into `out_dir`; the HTML's path.
    Claims: `claims_path`, else the file the first sweep recorded (else its grid's `claims:`, else
    conf/claims.yaml); a file
    other than the one the sweep recorded is refused unless `explore` (verdicts then labelled exploratory)."""
    sweeps = [load_sweep(Path(d)) for d in sweep_dirs]
    path = claims_path or claims_file_of(sweeps[0].record)
    claims = claims_checked(Path(path), [(s.path, s.record) for s in sweeps], explore)
    out = (
        Path(out_dir)
        if out_dir
        else (sweeps[0].path if len(sweeps) == 1 else Path("outputs") / "compare" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    )
    (out / "figures").mkdir(parents=True, exist_ok=True)
    sections = comparison_sections(sweeps, claims, out) if len(sweeps) > 1 else []
    for s in sweeps:
        sections += sweep_sections(s, claims, out, f"{s.dataset}_" if len(sweeps) > 1 else "")
    title = "nnscratch report: " + " vs ".join(f"{s.name} on {s.dataset}" for s in sweeps)
    write_markdown(out / "report.md", title, sections, out)
    return write_html(out / "report.html", title, sections)
