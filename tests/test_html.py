"""`--format html`: entities highlighted in place, every piece of text escaped, one colour per label."""

import html
import io
import re
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from nerkit.formats.html import colour, entity_types, label_rules, render_document, write_html

from conftest import ROOT

RESULTS = [
    {"text": 'George Washington went to <b>Washington</b> & "back".', "entities": [
        {"label": "LOC", "start": 29, "end": 39, "text": "Washington", "score": 0.9912},
        {"label": "PER", "start": 0, "end": 17, "text": "George Washington", "score": 0.998}]},
    {"text": "", "entities": []},
]


def test_write_html_highlights_entities_in_place_and_escapes_the_text():
    out = io.StringIO()
    write_html(iter(RESULTS), out)
    page = out.getvalue()
    assert '<mark class="ent" data-label="PER" title="PER 1.00">George Washington</mark> went to &lt;b&gt;' in page
    assert '<mark class="ent" data-label="LOC" title="LOC 0.99">Washington</mark>&lt;/b&gt; &amp; &quot;back&quot;.' in page
    assert "<b>" not in page and "<script" not in page and "http" not in page  # no markup from the text, no assets
    assert re.findall(r'class="swatch" data-label="(\w+)"', page) == ["LOC", "PER"]
    assert page.count('class="doc"') == 2 and "(empty document)" in page


words = st.text(alphabet="ab <>&\"'😀é\n", min_size=0, max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(words, st.booleans()), max_size=8))
def test_rendering_keeps_the_text_and_marks_exactly_the_entities(pieces):
    """Unescaping the rendering without its tags gives the text back; each <mark> holds its entity's text."""
    text, found = "", []
    for piece, is_entity in pieces:
        if is_entity and piece:
            found.append({"label": "PER", "start": len(text), "end": len(text) + len(piece), "text": piece, "score": 0.5})
        text += piece + " "
    rendered = render_document({"text": text, "entities": found})
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)) == text
    assert [html.unescape(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", rendered, re.S)] == [e["text"] for e in found]


def test_one_fixed_colour_per_label_and_css_that_cannot_break_out():
    assert colour("PER") != colour("LOC") and colour("WORK_OF_ART") == colour("WORK_OF_ART")
    assert entity_types(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) == ["LOC", "PER"]
    rules = label_rules(['X"]</style><script>'])
    assert "<" not in rules and rules.count('"') == 2  # only the selector's own quotes


def test_cli_predict_writes_an_html_page(trained_run, tmp_path):
    docs = tmp_path / "news.txt"
    docs.write_text("Anna Smith visited Paris.\n<i>John</i> left.\n", encoding="utf-8")
    out = tmp_path / "news.html"
    result = subprocess.run([sys.executable, "-m", "nerkit.cli", "predict", str(trained_run), "--input", str(docs),
                             "--format", "html", "--output", str(out)], capture_output=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count('class="doc"') == 2
    assert "&lt;i&gt;" in page and "<i>" not in page
