"""The body HTML policy (ingest.sanitize): active content refused, the rest allowlisted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.sanitize import ActiveContent, find_active_content, sanitize_body
from shared.schema import UNFIT

# (input, a fragment the refusal message must contain)
ACTIVE = {
    "script": ("<p>a</p><script>alert(1)</script>", "<script>"),
    "script-uppercase": ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>", "<script>"),
    "iframe": ('<iframe src="https://evil.example/"></iframe>', "<iframe>"),
    "object": ('<object data="x.swf"></object>', "<object>"),
    "embed": ('<embed src="x.swf">', "<embed>"),
    "form": ('<form action="https://evil.example/"><input name="q"></form>', "<form>"),
    "onerror": ('<img src="x.jpg" onerror="alert(1)">', "onerror="),
    "onclick": ('<p onclick="alert(1)">text</p>', "onclick="),
    "onload-svg-slash": ("<svg/onload=alert(1)>", "onload="),
    "href-javascript": ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    "href-javascript-spaces-case": ('<a href="  JaVaScRiPt:alert(1)">x</a>', "javascript:"),
    "href-javascript-space-before-colon": ('<a href="javascript :alert(1)">x</a>', "javascript:"),
    "href-javascript-tab-inside": ('<a href="java\tscript:alert(1)">x</a>', "javascript:"),
    "href-javascript-newline-inside": ('<a href="java\nscript:alert(1)">x</a>', "javascript:"),
    "href-javascript-entity-tab": ('<a href="java&#x09;script:alert(1)">x</a>', "javascript:"),
    "href-javascript-entity-colon": ('<a href="javascript&colon;alert(1)">x</a>', "javascript:"),
    "href-javascript-leading-control": ('<a href="&#1;javascript:alert(1)">x</a>', "javascript:"),
    "href-vbscript": ('<a href="vbscript:msgbox(1)">x</a>', "vbscript:"),
    "img-src-javascript": ('<img src="javascript:alert(1)">', "javascript:"),
}


@pytest.mark.parametrize(("markup", "named"), ACTIVE.values(), ids=ACTIVE.keys())
def test_active_content_is_refused_naming_what(markup, named):
    with pytest.raises(ActiveContent) as info:
        sanitize_body(markup)
    assert named in str(info.value)


def test_active_content_message_names_the_line():
    with pytest.raises(ActiveContent, match="line 3"):
        sanitize_body("<p>a</p>\n<p>b</p>\n<script>x</script>")


def test_find_active_content_is_none_for_clean_html():
    assert find_active_content('<p>正文 <a href="https://example.org/">链接</a></p>') is None


def test_find_active_content_describes_what_it_found():
    assert find_active_content("<p>a</p><iframe></iframe>") == "<iframe> element on line 1"


def test_javascript_in_a_text_attribute_is_not_refused():
    assert sanitize_body('<abbr title="javascript: the good parts">JS</abbr>') == (
        '<abbr title="javascript: the good parts">JS</abbr>'
    )


def test_unknown_font_tag_is_stripped_but_its_text_kept():
    assert sanitize_body('<p><font color="red">红色</font>文字</p>') == "<p>红色文字</p>"


def test_div_with_style_is_stripped_but_its_text_kept():
    assert sanitize_body('<div style="color:red">文本</div>') == "文本"


def test_style_attribute_is_dropped_from_allowed_tags():
    assert sanitize_body('<p style="color:red">段落</p>') == "<p>段落</p>"


def test_style_element_is_dropped_with_its_content():
    assert sanitize_body("<style>p{color:red}</style><p>段落</p>") == "<p>段落</p>"


def test_comments_are_dropped():
    assert sanitize_body("<p>a<!-- note -->b</p>") == "<p>ab</p>"


def test_figure_with_association_is_kept():
    markup = '<figure data-association="img1"></figure>'
    assert sanitize_body(markup) == markup


def test_figure_loses_attributes_other_than_association():
    assert sanitize_body('<figure class="x" data-association="img2"></figure>') == (
        '<figure data-association="img2"></figure>'
    )


def test_link_gets_noopener_noreferrer():
    assert sanitize_body('<a href="https://example.org/a">链接</a>') == (
        '<a href="https://example.org/a" rel="noopener noreferrer">链接</a>'
    )


def test_link_with_a_data_url_loses_its_href():
    assert sanitize_body('<a href="data:text/html,hi">x</a>') == (
        '<a rel="noopener noreferrer">x</a>'
    )


FORBIDDEN_CHARS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] + [
    "\ufffe",
    "\uffff",
]


@pytest.mark.parametrize("char", FORBIDDEN_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_xml_forbidden_character_is_removed(char):
    assert sanitize_body(f"<p>科{char}技</p>") == "<p>科技</p>"


@pytest.mark.parametrize("ref", ["&#1;", "&#x0B;", "&#12;", "&#x1f;", "&#xFFFE;", "&#xFFFF;"])
def test_xml_forbidden_character_written_as_reference_is_removed(ref):
    assert sanitize_body(f"<p>科{ref}技</p>") == "<p>科技</p>"


NONCHARACTERS = ["\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]


@pytest.mark.parametrize("char", NONCHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_non_character_is_removed(char):
    assert sanitize_body(f"<p>科{char}技</p>") == "<p>科技</p>"


@pytest.mark.parametrize("ref", ["&#xFDD0;", "&#64991;", "&#x1FFFF;", "&#x10FFFE;"])
def test_non_character_written_as_reference_is_removed(ref):
    assert sanitize_body(f"<p>科{ref}技</p>") == "<p>科技</p>"


@pytest.mark.parametrize("char", ["\t", "\n"], ids=["tab", "lf"])
def test_xml_allowed_whitespace_inside_text_is_kept(char):
    assert sanitize_body(f"<p>a{char}b</p>") == f"<p>a{char}b</p>"


def test_cjk_text_and_entities_survive():
    markup = "<p>科技工作者之家 &amp; 内蒙古科协 &lt;十九大&gt; ©</p>"
    assert sanitize_body(markup) == markup


def test_named_entities_are_decoded_to_characters():
    assert sanitize_body("<p>&copy; &mdash;</p>") == "<p>© —</p>"


def test_ideographic_space_indent_survives():
    assert sanitize_body("\u3000\u3000第一段") == "\u3000\u3000第一段"


@pytest.mark.parametrize("markup", ["", "  \n", "\u3000\u3000", "<!-- x -->", "<font> </font>"])
def test_body_without_content_sanitizes_to_empty(markup):
    assert sanitize_body(markup) == ""


def test_surrounding_ascii_whitespace_is_trimmed():
    assert sanitize_body("\n  <p>段落</p>\n") == "<p>段落</p>"


IDEMPOTENCE_CASES = [
    "<p>普通段落</p>",
    '<div style="x"><font>文本</font></div>',
    "<p><p>嵌套</p>",
    "<a><a>x</a></a>",
    "<table><tr><td>a</td></tr></table>x",
    "<li><table><li>",  # mis-nested: one pass of the cleaner alone is not stable here
    "a < b & c > d",
    "<p>科&#1;技</p>",
    '<a href="https://example.org/?a=1&b=2">q</a>',
]


@pytest.mark.parametrize("markup", IDEMPOTENCE_CASES)
def test_sanitizing_twice_equals_sanitizing_once(markup):
    once = sanitize_body(markup)
    assert sanitize_body(once) == once


# --- properties ------------------------------------------------------------------------------

FRAGMENTS = [
    "<", ">", "/", "&", "#", ";", "=", '"', "'", " ", "\n", "\x00", "\x0b", "\ufffe",
    "p", "a", "script", "SCRIPT", "href", "<p>", "</p>", "<a href=", "javascript:", "&#1;",
    "&#x", "<!--", "-->", "<table>", "<td>", "<tr>", "<li>", "<ul>", "<b>", "<svg>",
    "<style>", "<textarea>", "<figure data-association=\"x\">", "</figure>", "\u3000", "科技",
]  # fmt: skip
html_ish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=25).map(
    "".join
)
any_text = st.one_of(st.text(), html_ish)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(any_text)
def test_property_never_returns_script_or_forbidden_characters(text):
    try:
        out = sanitize_body(text)
    except ActiveContent:
        return
    assert isinstance(out, str)
    assert "<script" not in out.lower()
    assert not UNFIT.search(out)


@PROPERTY
@given(any_text)
def test_property_sanitizing_is_idempotent(text):
    try:
        once = sanitize_body(text)
    except ActiveContent:
        return
    assert sanitize_body(once) == once
