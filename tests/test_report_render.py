"""nnscratch.report.render: sections written as report.md (tables also as csv, long ones cut with a note) and
as one self-contained report.html (contents list, unique anchors, Markdown rendered with HTML escaped,
verdict cells coloured, figures inline)."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest

from nnscratch.report import render
from nnscratch.report.render import (
    Section,
    anchors,
    cells_markdown,
    cut_note,
    image_tag,
    slug,
    table_html,
    write_html,
    write_markdown,
)

PNG = b"\x89PNG\r\n\x1a\n not really an image"


@pytest.mark.parametrize(
    "title, made",
    [("Claims: verdicts", "claims_verdicts"), ("  784 -> 10 -> 10 (ReLU)!", "784_10_10_relu"), ("x" * 80, "x" * 60)],
)
def test_a_slug_is_lowercase_words_joined_by_underscores(title, made):
    assert slug(title) == made


def test_every_section_gets_a_unique_anchor_its_own_first():
    sections = [Section("Runs"), Section("Runs"), Section("Other", anchor="runs"), Section("Effects", anchor="fx")]
    assert anchors(sections) == ["runs", "runs_2", "runs_3", "fx"]


def test_a_long_table_is_cut_with_a_note_naming_its_csv(monkeypatch):
    monkeypatch.setattr(render, "SHOWN_ROWS", 2)
    df = pd.DataFrame({"a": range(1500)})
    assert len(render.shown(df)) == 2
    assert cut_note(df, "t.csv") == "\n(first 2 of 1,500 rows; every row is in t.csv)"
    assert cut_note(df.head(2), "t.csv") == ""


@pytest.fixture
def sections(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "f.png").write_bytes(PNG)
    table = pd.DataFrame({"claim": ["**Unscaled** <b>pixels</b>"], "verdict": ["REFUTED"], "test_acc": [0.11349]})
    return [
        Section("Verdicts", ["Each claim, *decided*."], tables=[("Claims & checks", table)], notes=["How to read."]),
        Section("Figures", figures=[("Accuracy per cell", tmp_path / "figures" / "f.png")], level=3, anchor="figs"),
    ]


def test_report_md_has_headings_tables_with_their_csv_notes_and_relative_figures(tmp_path, sections):
    text = write_markdown(tmp_path / "report.md", "Report", sections, tmp_path).read_text()
    lines = text.splitlines()
    assert lines[0] == "# Report" and "## Verdicts" in lines and "### Figures" in lines
    assert "**Claims & checks** ([csv](tables/01_claims_checks.csv))" in lines
    assert "0.113" in text and "0.11349" not in text  # shown to 3 places
    assert text.index("How to read.") > text.index("REFUTED")  # notes after the tables
    assert "![Accuracy per cell](figures/f.png)" in lines
    assert pd.read_csv(tmp_path / "tables" / "01_claims_checks.csv")["test_acc"].tolist() == [0.11349]  # every digit


def test_text_cells_are_rendered_markdown_with_html_escaped_and_numbers_kept():
    df = cells_markdown(pd.DataFrame({"t": ["`x` <i>y</i>", "[a](#b)"], "n": [1.5, 2.0]}))
    assert df["t"].tolist() == ["<code>x</code> &lt;i&gt;y&lt;/i&gt;", '<a href="#b">a</a>']
    assert df["n"].tolist() == [1.5, 2.0]


def test_an_html_table_has_its_caption_its_verdicts_coloured_and_three_places():
    df = pd.DataFrame({"claim": ["c"], "verdict": ["SUPPORTED"], "mean": [0.85678]})
    body = table_html("Claims <of the log>", df)
    assert body.startswith("<table><caption>Claims &lt;of the log&gt;</caption>")
    assert '<td class="SUPPORTED"><b>SUPPORTED</b></td>' in body and "<td>0.857</td>" in body


def test_a_figure_is_inline_with_its_caption_under_it(tmp_path):
    (tmp_path / "f.png").write_bytes(PNG)
    tag = image_tag('Loss "per" *cell*', tmp_path / "f.png")
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in tag
    assert 'alt="Loss &quot;per&quot; *cell*"' in tag and "<figcaption>Loss &quot;per&quot; <em>cell</em>" in tag


def test_report_html_lists_the_sections_and_holds_everything_inline(tmp_path, sections):
    page = write_html(tmp_path / "report.html", "Report <1>", sections).read_text()
    assert "<title>Report &lt;1&gt;</title>" in page
    assert re.findall(r'<a href="#(\w+)">', page) == ["verdicts", "figs"]
    assert '<h2 id="verdicts">Verdicts</h2>' in page and '<h3 id="figs">Figures</h3>' in page
    assert "<p>Each claim, <em>decided</em>.</p>" in page and "&lt;b&gt;pixels&lt;/b&gt;" in page
    assert "data:image/png;base64," in page and 'src="figures/' not in page
    assert "<script" not in page  # no sortable table: no script


def test_a_sortable_table_brings_its_script_inline_once(tmp_path):
    df = pd.DataFrame({"run_id": ["a", "b"], "test_acc": [0.9, 0.8]})
    section = Section("Runs", tables=[("All runs", df), ("Also", df)], sortable=("All runs", "Also"))
    page = write_html(tmp_path / "report.html", "R", [section]).read_text()
    assert page.count('<div class="sortable">') == 2
    assert page.count(render.sortable_setup()) == 1  # DataTables' bundle, inline: the page opens offline
    assert not re.search(r'src="https?://', page)
