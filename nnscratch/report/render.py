"""Sections of text, tables and figures -> report.md (+ tables/*.csv) and a self-contained report.html."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SHOWN_ROWS = 300  # a longer table is shown as its first rows; its csv holds every row

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #333; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } caption { text-align: left; font-weight: 600; padding: 4px 0; }
img { max-width: 100%; border: 1px solid #eee; } figure { margin: 1em 0; }
.SUPPORTED { background: #d8f3dc; } .REFUTED { background: #ffd6d6; }
.CONDITIONAL { background: #fff3bf; } .INCONCLUSIVE { background: #e9ecef; }
"""


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    level: int = 2


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


def write_markdown(path: Path, title: str, sections: list[Section], out: Path) -> Path:
    """report.md with figures linked relatively; every table also saved as tables/<name>.csv."""
    (out / "tables").mkdir(parents=True, exist_ok=True)
    lines, n = [f"# {title}", ""], 0
    for s in sections:
        lines += ["#" * s.level + f" {s.title}", "", *[f"{t}\n" for t in s.text]]
        for caption, df in s.tables:
            n += 1
            name = f"{n:02d}_{slug(caption)}"
            df.to_csv(out / "tables" / f"{name}.csv", index=False)
            lines += [
                f"**{caption}** ([csv](tables/{name}.csv))",
                "",
                shown(df).to_markdown(index=False, floatfmt=".3f"),
            ]
            lines += [cut_note(df, f"tables/{name}.csv"), ""]
        for caption, fig in s.figures:
            lines += [f"![{caption}]({Path(fig).relative_to(out)})", ""]
    path.write_text("\n".join(lines))
    return path


def shown(df: pd.DataFrame) -> pd.DataFrame:
    return df.head(SHOWN_ROWS)


def cut_note(df: pd.DataFrame, csv: str) -> str:
    return f"\n(first {SHOWN_ROWS} of {len(df):,} rows; every row is in {csv})" if len(df) > SHOWN_ROWS else ""


def image_tag(caption: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"></figure>'


def table_html(caption: str, df: pd.DataFrame) -> str:
    body = shown(df).to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="", border=0, escape=True)
    for v in ("SUPPORTED", "REFUTED", "CONDITIONAL", "INCONCLUSIVE"):
        body = body.replace(f"<td>{v}</td>", f'<td class="{v}"><b>{v}</b></td>')
    caption += cut_note(df, "the report's tables/ folder")
    return body.replace('<table class="dataframe">', f"<table><caption>{html.escape(caption)}</caption>", 1)


def write_html(path: Path, title: str, sections: list[Section]) -> Path:
    """One HTML file with the CSS and every figure inline: it opens offline, anywhere."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    for s in sections:
        parts.append(f"<h{s.level}>{html.escape(s.title)}</h{s.level}>")
        parts += [f"<p>{html.escape(t)}</p>" for t in s.text]
        parts += [table_html(c, df) for c, df in s.tables]
        parts += [image_tag(c, f) for c, f in s.figures]
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path
