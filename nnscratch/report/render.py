"""Sections of text, tables and figures -> report.md (+ tables/*.csv) and a self-contained report.html.

Texts and table cells are Markdown (rendered by markdown-it-py, raw HTML escaped); the HTML has a
contents list, captions under figures, and its sortable tables (itables, DataTables) carry their
JavaScript inline: the file opens offline, anywhere.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt

MD = MarkdownIt("commonmark", {"html": False})
SORTABLE_ROWS = 5000  # a sortable table holds up to this many rows (the csv holds every row)
SHOWN_ROWS = 300  # a longer table is shown as its first rows; its csv holds every row

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #333; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } caption { text-align: left; font-weight: 600; padding: 4px 0; }
img { max-width: 100%; border: 1px solid #eee; } figure { margin: 1em 0; }
figcaption { font-size: 0.9em; color: #555; margin-top: 0.3em; } nav ul { columns: 2; font-size: 0.9em; }
td p, td code { margin: 0; } .wide { overflow-x: auto; max-width: 100%; }
nav { font-size: 0.9em; margin-bottom: 0.5em; } h2 { margin-top: 1.2em; } ul { margin: 0.3em 0; }
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
    anchor: str = ""  # the heading's id (default: from the title), for links such as [x](#anchor)
    sortable: tuple[str, ...] = ()  # captions of tables shown sortable and filterable in the HTML
    notes: list[str] = field(default_factory=list)  # text after the tables (how to read them), before the figures


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
        lines += [f"{t}\n" for t in s.notes]
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
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{MD.renderInline(caption)}</figcaption></figure>"
    )


def cells_markdown(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells rendered as inline Markdown (HTML escaped); numbers left as numbers."""
    return df.apply(lambda col: col.map(lambda v: MD.renderInline(v) if isinstance(v, str) else v))


def table_html(caption: str, df: pd.DataFrame) -> str:
    body = cells_markdown(shown(df)).to_html(
        index=False, float_format=lambda x: f"{x:.3f}", na_rep="", border=0, escape=False
    )
    for v in ("SUPPORTED", "REFUTED", "CONDITIONAL", "INCONCLUSIVE"):
        body = body.replace(f"<td>{v}</td>", f'<td class="{v}"><b>{v}</b></td>')
    caption += cut_note(df, "the report's tables/ folder")
    return body.replace('<table class="dataframe">', f"<table><caption>{html.escape(caption)}</caption>", 1)


def sortable_html(caption: str, df: pd.DataFrame) -> str:
    """A table to sort and filter in the browser (itables; its JavaScript is in the page once)."""
    from itables import to_html_datatable

    note = f" (first {SORTABLE_ROWS:,} of {len(df):,} rows: every row is in tables/)" if len(df) > SORTABLE_ROWS else ""
    table = to_html_datatable(
        df.head(SORTABLE_ROWS).round(4),
        caption=caption + note,
        connected=False,
        maxBytes=0,
        display_logo_when_loading=False,
    )
    return f'<div class="sortable">{table}</div>'


def sortable_setup() -> str:
    """The DataTables bundle itables ships, inline (no network)."""
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    return generate_init_offline_itables_html(options.dt_bundle)


def anchors(sections: list[Section]) -> list[str]:
    """A unique id per section: its anchor, else one made from its title."""
    seen: dict[str, int] = {}
    out = []
    for s in sections:
        base = s.anchor or slug(s.title)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


def write_html(path: Path, title: str, sections: list[Section]) -> Path:
    """One HTML file with the CSS, scripts and every figure inline: it opens offline, anywhere."""
    ids = anchors(sections)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        "<nav><details><summary><b>Contents</b></summary><ul>",
        *[
            f'<li style="margin-left:{1.2 * (s.level - 2)}em"><a href="#{i}">{html.escape(s.title)}</a></li>'
            for s, i in zip(sections, ids)
        ],
        "</ul></details></nav>",
    ]
    if any(s.sortable for s in sections):
        parts.append(sortable_setup())
    for s, i in zip(sections, ids):
        parts.append(f'<h{s.level} id="{i}">{html.escape(s.title)}</h{s.level}>')
        parts += [MD.render(t) for t in s.text]
        parts += [
            f'<div class="wide">{sortable_html(c, df) if c in s.sortable else table_html(c, df)}</div>'
            for c, df in s.tables
        ]
        parts += [MD.render(t) for t in s.notes]
        parts += [image_tag(c, f) for c, f in s.figures]
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path
