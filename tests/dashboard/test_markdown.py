"""The rule-docs Markdown renderer: the subset the docs use, everything escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from heuristics.registry import all_rules, doc_sections
from reviewbot.dashboard.markdown import render


def test_headings_paragraphs_lists_and_code() -> None:
    html = render("Summary line.\n\n## What it does\nFlags `kmalloc(GFP_NOFS)` and\n"
                  "``a `b` c``.\n\n- one\n- two\n  continued\n\n1. first\n2. second\n")
    assert html == (
        "<p>Summary line.</p>\n<h2>What it does</h2>\n"
        "<p>Flags <code>kmalloc(GFP_NOFS)</code> and <code>a `b` c</code>.</p>\n"
        "<ul><li>one</li><li>two continued</li></ul>\n"
        "<ol><li>first</li><li>second</li></ol>")


def test_fenced_diff_lines_are_classed_and_escaped() -> None:
    html = render("```diff\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a <b>\n+c & d\n ctx\n```\n")
    assert html == (
        '<pre class="code lang-diff"><code><span class="hdr">--- a/x.c</span>\n'
        '<span class="hdr">+++ b/x.c</span>\n<span class="hunk">@@ -1 +1 @@</span>\n'
        '<span class="del">-a &lt;b&gt;</span>\n<span class="add">+c &amp; d</span>\n'
        " ctx</code></pre>")


def test_html_links_and_images_are_text() -> None:
    html = render('<script>alert("x")</script> [a](javascript:alert(1)) '
                  '![i](http://x/i.png) <img src=x onerror=alert(1)>')
    assert "<script" not in html and "<img" not in html and "<a" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_unclosed_fence_runs_to_the_end() -> None:
    assert render("```\n<x>\n") == '<pre class="code"><code>&lt;x&gt;</code></pre>'


def test_every_rule_doc_renders_all_its_sections() -> None:
    for rule in all_rules():
        html = render(rule.meta.docs)
        for title in doc_sections(rule.meta.docs):
            assert f"<h2>{title}</h2>" in html, (rule.id, title)
        assert html.count("<pre") == rule.meta.docs.count("```") // 2, rule.id


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


ALLOWED = {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "code", "pre", "span"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&\"'`#-*+ 1.\n~abc/=")), max_size=200))
def test_no_markup_from_input(text: str) -> None:
    parser = _Tags()
    parser.feed(render(text))
    for tag, attrs in parser.seen:
        assert tag in ALLOWED
        assert all(name == "class" for name, _ in attrs)
