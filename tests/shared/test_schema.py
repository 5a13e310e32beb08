"""The article model (shared.schema) and the JSON Schema file generated from it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.schema import ArticleIn
from shared.schema_file import SCHEMA_ID, SCHEMA_PATH, render


def article(**overrides) -> dict:
    doc = {
        "source": "scimall",
        "guid": "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html",
        "language": "zh-CN",
        "versionCreated": "2017-12-04T00:00:00+08:00",
        "headlines": [{"role": "main", "value": "学精神 担重任 高起点开启科协发展新征程"}],
        "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>正文。</p>"}],
    }
    doc.update(overrides)
    return doc


def errors(doc: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        ArticleIn.model_validate(doc)
    return info.value.errors()


def test_minimal_article_is_accepted():
    parsed = ArticleIn.model_validate(article())
    assert parsed.headline == "学精神 担重任 高起点开启科协发展新征程"
    assert parsed.versionCreated.utcoffset().total_seconds() == 8 * 3600


def test_naive_datetime_is_refused():
    [err] = errors(article(versionCreated="2017-12-04T00:00:00"))
    assert err["loc"] == ("versionCreated",)
    assert err["type"] == "timezone_aware"


def test_naive_embargo_datetime_is_refused():
    [err] = errors(article(embargoedUntil="2017-12-05T08:00:00"))
    assert err["loc"] == ("embargoedUntil",)
    assert err["type"] == "timezone_aware"


def test_unknown_top_level_field_is_refused():
    [err] = errors(article(headline="a typo for headlines"))
    assert err["loc"] == ("headline",)
    assert err["type"] == "extra_forbidden"


def test_unknown_nested_field_is_refused():
    [err] = errors(article(headlines=[{"value": "标题", "lang": "zh"}]))
    assert err["loc"] == ("headlines", 0, "lang")
    assert err["type"] == "extra_forbidden"


@pytest.mark.parametrize("char", ["\x07", "\n", "\t", "\x7f"], ids=["bel", "lf", "tab", "del"])
def test_control_character_in_headline_is_refused_naming_the_code_point(char):
    [err] = errors(article(headlines=[{"value": f"标{char}题"}]))
    assert err["loc"] == ("headlines", 0, "value")
    assert f"U+{ord(char):04X}" in err["msg"]
    assert "position 1" in err["msg"]


def test_headline_is_trimmed():
    assert ArticleIn.model_validate(article(headlines=[{"value": " 标题 "}])).headline == "标题"


def test_empty_headlines_list_is_refused():
    [err] = errors(article(headlines=[]))
    assert err["loc"] == ("headlines",)
    assert err["type"] == "too_short"


def test_empty_headline_text_is_refused():
    [err] = errors(article(headlines=[{"value": ""}]))
    assert err["loc"] == ("headlines", 0, "value")


@pytest.mark.parametrize("tag", ["zh_CN", "", "chinese", "z", "zh-", "中文"])
def test_bad_language_tag_is_refused(tag):
    [err] = errors(article(language=tag))
    assert err["loc"] == ("language",)
    assert err["type"] == "string_pattern_mismatch"


@pytest.mark.parametrize("tag", ["zh-CN", "en", "zh-Hans-CN", "yue"])
def test_good_language_tag_is_accepted(tag):
    assert ArticleIn.model_validate(article(language=tag)).language == tag


def test_bad_source_name_is_refused():
    [err] = errors(article(source="Sci Mall"))
    assert err["loc"] == ("source",)


def test_bad_association_key_is_refused():
    picture = {"type": "picture", "uri": "urn:newsflow:media:sha256:" + "0" * 64}
    [err] = errors(article(associations={"img 1": picture}))
    assert err["loc"][0] == "associations"


def test_json_schema_file_is_fresh():
    on_disk = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    assert render() == on_disk, (
        f"{SCHEMA_PATH} is stale (the pydantic model changed without regenerating it): "
        "run `newsflow schema`"
    )


def test_json_schema_describes_the_article_model():
    schema = json.loads(render())
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert {"source", "guid", "language", "versionCreated", "headlines", "bodies"} <= set(
        schema["required"]
    )
