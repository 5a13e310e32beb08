"""The seed export parser (ingest.importers.scimall), checked against its real article.

Expected values are written out here from the source file, not derived from the parser, so a
parser change that alters what an article says makes a test fail.
"""

from __future__ import annotations

import hashlib
import html
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ingest.importers.scimall import SHANGHAI, ImportFormatError, ParsedArticle, parse
from ingest.sanitize import sanitize_body
from shared.schema import ArticleIn

SEED = Path(__file__).parents[2] / "newsflow" / "demo" / "seed"
REAL = "scimall-2017-12-04-imast.txt"
ENGLISH = "scimall-2018-03-02-science-festival-en.txt"
SEED_FILES = sorted(p.name for p in SEED.glob("scimall-*.txt"))

HEADINGS = [
    "加强政治引领,增强执政本领",
    "提高理论站位,务求工作实效",
    "强化责任担当,开启科协发展新征程",
]
IMAGES = [
    "20171205013108_c8d4de.jpg",
    "20171205013108_cce7fd.jpg",
    "20171205013109_d18cf9.jpg",
    "20171205013109_d609f0.jpg",
]
LINK = "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html"
RIGHTS = (
    "除非特别注明,本站所载内容来源于互联网、微信公众号等公开渠道,不代表本站观点,"
    "仅供参考、交流、公益传播之目的。转载的稿件版权归原作者或机构所有,如有侵权,请联系删除。"
)

# A small file in the same format, for the edge cases; line numbers are noted where they matter.
HEAD = "标题\n\n科技工作者之家 2017-12-04\n\n"  # lines 1-4; the body starts on line 5
TAIL = (
    "\n来源:某市科学技术协会\n\n原文链接:http://example.org/a.html\n\n版权声明:声明。\n\n"
    "电话:(010)86409582\n\n邮箱:kejie@scimall.org.cn\n\n内蒙\n\n推荐资讯\n"
)


def read(name: str) -> str:
    return (SEED / name).read_text(encoding="utf-8")


def parsed(name: str) -> ParsedArticle:
    return parse(read(name), name)


def body(result: ParsedArticle) -> str:
    return result.doc["bodies"][0]["value"]


class _Blocks(HTMLParser):
    """The top-level blocks of a body: (tag, attributes, text) in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, dict, str]] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.blocks.append((tag, dict(attrs), ""))
        self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1

    def handle_data(self, data):
        if self.depth and self.blocks:
            tag, attrs, text = self.blocks[-1]
            self.blocks[-1] = (tag, attrs, text + data)


def blocks(markup: str) -> list[tuple[str, dict, str]]:
    parser = _Blocks()
    parser.feed(markup)
    parser.close()
    return parser.blocks


def texts(markup: str, tag: str) -> list[str]:
    return [text for t, _, text in blocks(markup) if t == tag]


def source_paragraphs(text: str) -> list[str]:
    """Every indented line of the file that is not a section heading, as written."""
    lines = [line[2:] for line in text.split("\n") if line.startswith("  ")]
    return [line for line in lines if line not in HEADINGS]


def with_media_uris(doc: dict) -> dict:
    for assoc in doc["associations"].values():
        digest = hashlib.sha256(assoc["filename"].encode()).hexdigest()
        assoc["uri"] = "urn:newsflow:media:sha256:" + digest
    return doc


def error_for(text: str, filename: str = "broken.txt") -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse(text, filename)
    return info.value


# --- the real article ------------------------------------------------------------------------


def test_real_article_headline_is_exact():
    assert parsed(REAL).doc["headlines"] == [
        {"role": "main", "value": "学精神 担重任 高起点开启科协发展新征程"}
    ]


def test_real_article_date_is_midnight_shanghai():
    doc = parsed(REAL).doc
    assert doc["versionCreated"] == "2017-12-04T00:00:00+08:00"
    assert doc["firstCreated"] == "2017-12-04T00:00:00+08:00"
    assert datetime.fromisoformat(doc["versionCreated"]).utcoffset() == timedelta(hours=8)


def test_shanghai_is_utc_plus_eight():
    assert SHANGHAI.utcoffset(None) == timedelta(hours=8)


def test_real_article_publisher_is_the_portal_with_its_contacts():
    publishers = [s for s in parsed(REAL).doc["infoSources"] if s["role"] == "publisher"]
    assert publishers == [
        {
            "name": "科技工作者之家",
            "role": "publisher",
            "contactInfo": [
                {"type": "phone", "value": "(010)86409582"},
                {"type": "email", "value": "kejie@scimall.org.cn"},
            ],
        }
    ]


def test_real_article_original_source_carries_the_original_link():
    originals = [s for s in parsed(REAL).doc["infoSources"] if s["role"] == "originalSource"]
    assert originals == [
        {"name": "内蒙古自治区科学技术协会", "role": "originalSource", "uri": LINK}
    ]


def test_real_article_uri_and_guid_are_the_original_link():
    doc = parsed(REAL).doc
    assert doc["uri"] == LINK
    assert doc["guid"] == LINK


def test_real_article_every_source_paragraph_appears_in_order():
    expected = source_paragraphs(read(REAL))
    # The byline is cut from the last paragraph (tested on its own below).
    assert expected[-1].endswith("(李琳")
    expected[-1] = expected[-1].removesuffix("(李琳")
    assert len(expected) == 8
    assert texts(body(parsed(REAL)), "p") == expected


def test_real_article_section_headings_become_h2():
    assert texts(body(parsed(REAL)), "h2") == HEADINGS


def test_real_article_body_follows_the_file_order():
    kinds = [(tag, attrs.get("data-association")) for tag, attrs, _ in blocks(body(parsed(REAL)))]
    p, h2 = ("p", None), ("h2", None)
    assert kinds == [
        p, ("figure", "img1"), p, h2, p, ("figure", "img2"), h2, p, h2, p,
        ("figure", "img3"), p, p, p, ("figure", "img4"),
    ]  # fmt: skip


def test_real_article_images_become_figures_in_file_order():
    figures = [attrs for tag, attrs, _ in blocks(body(parsed(REAL))) if tag == "figure"]
    assert figures == [{"data-association": f"img{n}"} for n in range(1, 5)]


def test_real_article_images_list_file_names_in_order():
    result = parsed(REAL)
    assert result.images == [(f"img{n}", name) for n, name in enumerate(IMAGES, 1)]
    assert [a["filename"] for a in result.doc["associations"].values()] == IMAGES


def test_real_article_associations_are_pictures_awaiting_a_uri():
    assocs = parsed(REAL).doc["associations"]
    assert list(assocs) == ["img1", "img2", "img3", "img4"]
    assert all(a["type"] == "picture" and a["uri"] == "" for a in assocs.values())


def test_real_article_byline_taken_from_unclosed_parenthesis():
    assert parsed(REAL).doc["by"] == "李琳"


def test_real_article_byline_removed_from_last_paragraph():
    last = texts(body(parsed(REAL)), "p")[-1]
    assert "李琳" not in last
    assert last.endswith("推动内蒙古科协改革发展踏上新征程。")


def test_real_article_copyright_notice_is_exact():
    assert parsed(REAL).doc["copyrightNotice"] == RIGHTS


def test_real_article_region_is_a_place():
    assert parsed(REAL).doc["places"] == [{"name": "内蒙"}]


def test_real_article_recommended_box_heading():
    assert parsed(REAL).doc["recommended"] == {"heading": "推荐资讯", "items": []}


def test_real_article_language_is_chinese():
    assert parsed(REAL).doc["language"] == "zh-CN"


def test_ascii_punctuation_inside_chinese_is_kept_as_written():
    markup = body(parsed(REAL))
    assert "<p>为深入学习宣传贯彻党的十九大精神,按照科协党组安排," in markup
    assert "专题轮训班(第一期)开班仪式" in markup
    assert "，" not in markup and "（" not in markup


def test_real_article_validates_against_schema_once_uris_are_filled():
    article = ArticleIn.model_validate(with_media_uris(parsed(REAL).doc))
    assert article.headline == "学精神 担重任 高起点开启科协发展新征程"
    assert article.regions == ["内蒙"]


def test_real_article_body_is_unchanged_by_the_sanitizer():
    markup = body(parsed(REAL))
    assert sanitize_body(markup) == markup


# --- the English article ---------------------------------------------------------------------


def test_english_article_language_is_en():
    assert parsed(ENGLISH).doc["language"] == "en"


def test_english_article_escapes_ampersand_and_angle_brackets():
    markup = body(parsed(ENGLISH))
    assert "demonstration &amp; ask" in markup
    assert "&lt;and&gt;" in markup
    assert "<and>" not in markup


def test_english_article_text_unescapes_to_the_original():
    expected = source_paragraphs(read(ENGLISH))
    expected[-1] = expected[-1].removesuffix(" (Chen Yu")
    got = [html.unescape(p) for p in body(parsed(ENGLISH)).split("\n") if p.startswith("<p>")]
    assert [p.removeprefix("<p>").removesuffix("</p>") for p in got] == expected
    assert '"meet the scientist"' in got[0]


def test_english_article_byline():
    assert parsed(ENGLISH).doc["by"] == "Chen Yu"


# --- every seed file -------------------------------------------------------------------------


def test_there_are_four_seed_files():
    assert len(SEED_FILES) == 4


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_file_parses_and_validates(name):
    result = parsed(name)
    assert result.images, "every seed article cites at least one image"
    ArticleIn.model_validate(with_media_uris(result.doc))


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_body_passes_the_sanitizer_unchanged(name):
    markup = body(parsed(name))
    assert sanitize_body(markup) == markup


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_images_exist_under_their_cited_names(name):
    for _, filename in parsed(name).images:
        assert (SEED / "images" / filename).is_file(), filename


# --- malformed files: the error names the file and the line -----------------------------------


def real_lines() -> list[str]:
    return read(REAL).split("\n")


def test_error_message_starts_with_file_and_line():
    err = error_for("", "some/dir/x.txt")
    assert str(err).startswith("some/dir/x.txt:1: ")
    assert (err.filename, err.line) == ("some/dir/x.txt", 1)


def test_empty_file_is_refused_at_line_1():
    err = error_for("")
    assert err.line == 1
    assert "empty" in err.message


def test_blank_only_file_is_refused_at_line_1():
    assert error_for("\n\n  \n").line == 1


def test_headline_only_is_refused_at_the_headline_line():
    err = error_for(real_lines()[0] + "\n")
    assert err.line == 1
    assert "date line" in err.message


def test_headline_and_date_without_body_is_refused_at_the_date_line():
    err = error_for("\n".join(real_lines()[:3]) + "\n")
    assert err.line == 3


def test_impossible_date_is_refused_at_the_date_line():
    lines = real_lines()
    lines[2] = "科技工作者之家 2017-13-40"
    err = error_for("\n".join(lines), REAL)
    assert str(err).startswith(f"{REAL}:3: ")
    assert "2017-13-40" in err.message


def test_date_line_without_a_date_is_refused_at_its_line():
    lines = real_lines()
    lines[2] = "科技工作者之家"
    err = error_for("\n".join(lines))
    assert err.line == 3
    assert "YYYY-MM-DD" in err.message


def test_indented_headline_is_refused():
    assert error_for("  " + read(REAL)).line == 1


def test_unindented_stray_line_in_body_is_refused_at_its_line():
    lines = real_lines()
    lines[8] = lines[8].lstrip()  # line 9, a paragraph
    err = error_for("\n".join(lines))
    assert err.line == 9
    assert "indented" in err.message


def test_junk_after_the_trailers_is_refused_at_its_line():
    err = error_for(read(REAL) + "\n\n多余的一行文字")  # the file has 47 lines and no final newline
    assert err.line == 49
    assert "多余的一行文字" in err.message


def test_paragraph_below_the_trailers_is_refused_at_its_line():
    lines = real_lines()
    lines[41] = "  迷路的段落"  # line 42, the blank between 电话 and 邮箱
    err = error_for("\n".join(lines))
    assert err.line == 42


def test_trailers_without_any_paragraph_are_refused_at_the_first_trailer():
    err = error_for(HEAD + TAIL.lstrip("\n"))
    assert err.line == 5


def test_nul_byte_is_refused_at_its_line():
    lines = real_lines()
    lines[12] = lines[12][:10] + "\x00" + lines[12][10:]  # line 13
    err = error_for("\n".join(lines))
    assert err.line == 13
    assert "NUL" in err.message


def test_other_control_character_is_refused_at_its_line():
    err = error_for(HEAD + "  第一段\x0b文字。\n" + TAIL)
    assert err.line == 5
    assert "U+000B" in err.message


def test_repeated_trailer_is_refused_at_the_second_one():
    text = HEAD + "  第一段。\n" + TAIL.replace("\n内蒙", "\n来源:另一个协会\n\n内蒙")
    assert error_for(text).line == 17


def test_trailer_without_value_is_refused_at_its_line():
    err = error_for(HEAD + "  第一段。\n" + TAIL.replace("来源:某市科学技术协会", "来源:"))
    assert err.line == 7


# --- edge cases of the body --------------------------------------------------------------------


def test_heading_like_final_paragraph_is_a_paragraph():
    result = parse(HEAD + "  第一段文字。\n\n  加强政治引领\n" + TAIL, "x.txt")
    assert body(result) == "<p>第一段文字。</p>\n<p>加强政治引领</p>"


def test_heading_like_final_paragraph_with_byline_is_a_paragraph():
    result = parse(HEAD + "  第一段文字。\n\n  加强政治引领(李琳\n" + TAIL, "x.txt")
    assert body(result) == "<p>第一段文字。</p>\n<p>加强政治引领</p>"
    assert result.doc["by"] == "李琳"


def test_short_line_in_the_middle_is_a_heading():
    result = parse(HEAD + "  第一段文字。\n\n  小标题\n\n  最后一段。\n" + TAIL, "x.txt")
    assert texts(body(result), "h2") == ["小标题"]


def test_indented_image_line_is_still_an_image_and_not_the_last_paragraph():
    text = HEAD + "  第一段文字。\n\n  短的结尾(李琳\n\n  20171205013109_d609f0.jpg\n" + TAIL
    result = parse(text, "x.txt")
    assert body(result) == (
        '<p>第一段文字。</p>\n<p>短的结尾</p>\n<figure data-association="img1"></figure>'
    )
    assert result.doc["by"] == "李琳"


def test_byline_on_its_own_line_leaves_no_empty_paragraph():
    result = parse(HEAD + "  第一段文字。\n\n  短的结尾\n\n  (李琳\n" + TAIL, "x.txt")
    assert body(result) == "<p>第一段文字。</p>\n<p>短的结尾</p>"
    assert result.doc["by"] == "李琳"


def test_no_byline_leaves_by_unset():
    result = parse(HEAD + "  第一段文字。\n" + TAIL, "x.txt")
    assert "by" not in result.doc


def test_full_width_parenthesis_byline():
    result = parse(HEAD + "  第一段文字。（王晓\n" + TAIL, "x.txt")
    assert result.doc["by"] == "王晓"
    assert body(result) == "<p>第一段文字。</p>"


def test_byte_order_mark_is_not_part_of_the_headline():
    result = parse("\ufeff" + HEAD + "  第一段文字。\n" + TAIL, "x.txt")
    assert result.doc["headlines"][0]["value"] == "标题"


def test_crlf_line_endings_parse_like_lf():
    text = HEAD + "  第一段文字。\n\n  小标题\n\n  最后一段。(李琳\n" + TAIL
    assert parse(text.replace("\n", "\r\n"), "x.txt").doc == parse(text, "x.txt").doc


def test_guid_falls_back_to_the_file_name_without_a_link():
    text = HEAD + "  第一段文字。\n" + TAIL.replace("原文链接:http://example.org/a.html\n\n", "")
    doc = parse(text, "seed/scimall-x.txt").doc
    assert doc["guid"] == "scimall-x"
    assert "uri" not in doc
