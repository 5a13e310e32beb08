"""Every string of the article model is checked, whatever field it sits in (shared.schema).

The model is introspected: each leaf a client sends as a JSON string is found by walking the
pydantic fields, so a field added later is in the list without anyone adding it here; the
sample document must then hold a valid value for it, and the checks below prove the generic
check covers it.
"""

from __future__ import annotations

import copy
import types
import typing
from datetime import datetime

import pytest
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from shared.schema import Article, ArticleIn

MEDIA = "urn:newsflow:media:sha256:" + "a" * 64

# One valid value for every field, so each can be spoiled in turn.
SAMPLE = {
    "source": "scimall",
    "guid": "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html",
    "uri": "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html",
    "type": "text",
    "language": "zh-CN",
    "versionCreated": "2017-12-04T00:00:00+08:00",
    "firstCreated": "2017-12-04T00:00:00+08:00",
    "pubStatus": "usable",
    "embargoedUntil": "2017-12-05T00:00:00+08:00",
    "headlines": [{"role": "main", "value": "学精神 担重任"}],
    "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>正文。</p>"}],
    "by": "李琳",
    "subjects": [{"name": "科协", "uri": "https://example.org/s", "rel": "about"}],
    "places": [{"name": "内蒙", "uri": "https://example.org/p", "rel": "about"}],
    "infoSources": [
        {
            "name": "内蒙古自治区科学技术协会",
            "role": "originalSource",
            "uri": "http://www.imast.org.cn/",
            "contactInfo": [{"type": "phone", "value": "010-62110530"}],
        }
    ],
    "associations": {
        "img1": {
            "type": "picture",
            "uri": MEDIA,
            "headline": "标题",
            "description": "说明",
            "creditline": "摄影",
            "filename": "20171205013108_c8d4de.jpg",
            "renditions": [
                {
                    "name": "w640",
                    "href": "https://example.org/media/x/w640.jpg",
                    "contenttype": "image/jpeg",
                    "width": 640,
                    "height": 480,
                    "sizeinbytes": 1000,
                }
            ],
        }
    },
    "copyrightNotice": "版权所有",
    "usageTerms": "仅供学习",
    "recommended": {
        "heading": "推荐资讯",
        "items": [{"headline": "另一篇", "uri": "https://example.org/r"}],
    },
}
KEY = "<key>"  # marks a dict key in a path

# Long free text strips what XML cannot carry (the rest refuse): see shared.schema.strip_unfit.
STRIPPED = {
    "bodies.0.value",
    "copyrightNotice",
    "usageTerms",
    "associations.img1.headline",
    "associations.img1.description",
    "associations.img1.creditline",
}


def _unwrap(annotation) -> list:
    """The types a field may hold: Optional and Annotated peeled off."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def text_paths(model: type[BaseModel], prefix: tuple = ()) -> set[tuple]:
    """Every path where a JSON string goes in: str, Literal, URL and datetime fields."""
    paths: set[tuple] = set()
    for name, info in model.model_fields.items():
        for kind in _unwrap(info.annotation):
            paths |= _paths_of(kind, (*prefix, name))
    return paths


def _paths_of(kind, path: tuple) -> set[tuple]:
    origin = typing.get_origin(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return text_paths(kind, path)
    if origin is list:
        return {p for t in _unwrap(typing.get_args(kind)[0]) for p in _paths_of(t, (*path, 0))}
    if origin is dict:
        key_type, value_type = typing.get_args(kind)
        found = {p for t in _unwrap(key_type) for p in _paths_of(t, (*path, KEY))}
        return found | {p for t in _unwrap(value_type) for p in _paths_of(t, (*path, "img1"))}
    if kind in (str, datetime, AwareDatetime) or origin is typing.Literal:
        return {path}
    if kind in (int, bool, type(None)):
        return set()
    raise AssertionError(f"{'.'.join(map(str, path))}: a field type this test does not know")


PATHS = sorted(text_paths(ArticleIn), key=lambda p: tuple(map(str, p)))


def dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def get(doc, path: tuple):
    for part in path:
        doc = next(iter(doc)) if part == KEY else doc[part]
    return doc


def spoiled(path: tuple, char: str) -> tuple[dict, tuple]:
    """The sample with ``char`` put inside the value at ``path``; and the error location
    pydantic gives for it."""
    doc = copy.deepcopy(SAMPLE)
    *parent_path, last = path
    parent = get(doc, tuple(parent_path))
    if last == KEY:
        key = next(iter(parent))
        bad = key[:1] + char + key[1:]
        parent[bad] = parent.pop(key)
        return doc, (*parent_path, bad, "[key]")
    value = parent[last]
    parent[last] = value[:1] + char + value[1:]
    return doc, path


def test_every_text_field_has_a_sample_value():
    missing = [dotted(p) for p in PATHS if _missing(p)]
    assert not missing, f"add a valid value for {missing} to SAMPLE"
    ArticleIn.model_validate(SAMPLE)


def _missing(path: tuple) -> bool:
    try:
        get(SAMPLE, path)
    except (KeyError, IndexError, StopIteration):
        return True
    return False


def test_the_introspection_finds_nested_and_key_fields():
    found = {dotted(p) for p in PATHS}
    assert {"headlines.0.role", "associations.<key>", "recommended.items.0.uri"} <= found
    assert "associations.img1.renditions.0.href" in found
    assert len(found) > 40


BAD = {
    "soh": "\x01",
    "vt": "\x0b",
    "fffe": "\ufffe",
    "ffff": "\uffff",
    "fdd0": "\ufdd0",
    "fdef": "\ufdef",
    "plane1-fffe": "\U0001fffe",
    "plane16-ffff": "\U0010ffff",
}


@pytest.mark.parametrize("char", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("path", PATHS, ids=dotted)
def test_unfit_character_is_refused_naming_the_field_or_stripped(path, char):
    doc, loc = spoiled(path, char)
    if dotted(path) in STRIPPED:
        value = get(ArticleIn.model_validate(doc).model_dump(mode="json"), path)
        assert value == get(SAMPLE, path)
        return
    with pytest.raises(ValidationError) as info:
        ArticleIn.model_validate(doc)
    assert [e["loc"] for e in info.value.errors()] == [loc]


@pytest.mark.parametrize("path", PATHS, ids=dotted)
def test_lone_surrogate_is_refused_naming_the_field(path):
    doc, loc = spoiled(path, "\ud800")
    with pytest.raises(ValidationError) as info:
        ArticleIn.model_validate(doc)
    [error] = info.value.errors()
    if KEY in path:  # pydantic shows the undecodable key replaced; the rest of the path holds
        assert (*error["loc"][: len(loc) - 2], error["loc"][-1]) == (*loc[:-2], "[key]")
    else:
        assert error["loc"] == loc


def test_a_new_plain_str_field_is_covered_without_code_of_its_own():
    class Later(ArticleIn):
        note: str | None = None
        tags: list[str] = Field(default_factory=list)

    for field, value in (("note", "a\x01b"), ("tags", ["ok", "a\ufdd0"])):
        with pytest.raises(ValidationError) as info:
            Later.model_validate({**SAMPLE, field: value})
        assert info.value.errors()[0]["loc"] == (field,)


def test_a_new_plain_str_field_refuses_a_lone_surrogate():
    class Later(ArticleIn):
        note: str | None = None

    with pytest.raises(ValidationError) as info:
        Later.model_validate({**SAMPLE, "note": "a\udfffb"})
    assert info.value.errors()[0]["loc"] == ("note",)


@pytest.mark.parametrize("char", ["\t", "\n"], ids=["tab", "lf"])
def test_free_text_keeps_tabs_and_line_breaks(char):
    parsed = ArticleIn.model_validate({**SAMPLE, "copyrightNotice": f"版权{char}所有"})
    assert parsed.copyrightNotice == f"版权{char}所有"


def test_free_text_keeps_characters_beyond_the_basic_plane():
    parsed = ArticleIn.model_validate({**SAMPLE, "copyrightNotice": "𠀀 😀 \U0010fffd"})
    assert parsed.copyrightNotice == "𠀀 😀 \U0010fffd"


STORED_ONLY = {"id": "a" * 32, "version": 1, "status": "queued", "statusReason": "原因"}


@pytest.mark.parametrize("field", sorted(text_paths(Article) - text_paths(ArticleIn)))
def test_stored_article_fields_are_covered_too(field):
    doc = {**SAMPLE, **STORED_ONLY}
    Article.model_validate(doc)
    (name,) = field
    with pytest.raises(ValidationError) as info:
        Article.model_validate({**doc, name: STORED_ONLY[name][:1] + "\ufdd0"})
    assert info.value.errors()[0]["loc"] == field
