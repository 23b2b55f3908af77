"""A sweep directory (or several, differing only in dataset) -> report.md, report.html, figures/, tables/.

Reads everything through `nnscratch.results`; trains nothing. One module per kind of section:
load.py (a sweep folder), verdicts.py (the claims), rounds.py (adaptive rounds), remedies.py,
grid.py (one sweep's sections), compare.py (several datasets); figures.py, tables.py, render.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from nnscratch.claims import claims_for, load_claims
from nnscratch.report.compare import comparison_sections
from nnscratch.report.grid import sweep_sections
from nnscratch.report.load import load_sweep
from nnscratch.report.render import write_html, write_markdown


def write_report(sweep_dirs: list[Path], out_dir: Path | None = None, claims_path: Path | None = None) -> Path:
    """Write the report of one sweep into its folder, or of several into `out_dir`; the HTML's path.
    Claims: `claims_path`, else the first sweep's own (its grid's `claims:`, else conf/claims.yaml)."""
    sweeps = [load_sweep(Path(d)) for d in sweep_dirs]
    out = (
        Path(out_dir)
        if out_dir
        else (sweeps[0].path if len(sweeps) == 1 else Path("outputs") / "compare" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    )
    (out / "figures").mkdir(parents=True, exist_ok=True)
    path = Path(claims_path or claims_for(sweeps[0].record))
    claims = load_claims(path) | {"file": path.name}
    sections = comparison_sections(sweeps, claims, out) if len(sweeps) > 1 else []
    for s in sweeps:
        sections += sweep_sections(s, claims, out, f"{s.dataset}_" if len(sweeps) > 1 else "")
    title = "nnscratch report: " + " vs ".join(f"{s.name} on {s.dataset}" for s in sweeps)
    write_markdown(out / "report.md", title, sections, out)
    return write_html(out / "report.html", title, sections)
