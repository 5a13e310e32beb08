"""ingest.services.parse_article: the clock-dependent date rules, body pictures turned into
associations, and the shape of its problems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.bodyimages import picture_key
from ingest.services import MAX_CLOCK_SKEW, MAX_EMBARGO, canonical_doc, parse_article
from shared.errors import ProblemError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PHOTO = "https://photos.example.org/2017/a.jpg"


def article(**overrides) -> dict:
    doc = {
        "source": "tests",
        "guid": "door-1",
        "language": "zh-CN",
        "versionCreated": "2017-12-04T00:00:00+08:00",
        "headlines": [{"value": "测试标题"}],
        "bodies": [{"value": "<p>正文。</p>"}],
    }
    doc.update(overrides)
    return doc


def problem(doc: dict, now: datetime = NOW) -> dict:
    with pytest.raises(ProblemError) as info:
        parse_article(doc, now=now)
    assert info.value.status == 422
    return info.value.problem.as_json()


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- dates against the clock ---------------------------------------------------------------


def test_clock_limits_are_what_the_docs_say():
    assert timedelta(minutes=5) == MAX_CLOCK_SKEW
    assert timedelta(days=366) == MAX_EMBARGO


@pytest.mark.parametrize("field", ["versionCreated", "firstCreated"])
def test_date_beyond_the_clock_skew_is_refused(field):
    found = problem(article(**{field: iso(NOW + MAX_CLOCK_SKEW + timedelta(seconds=1))}))
    assert found["error"] == "future_date"
    assert found["field"] == field


@pytest.mark.parametrize("field", ["versionCreated", "firstCreated"])
def test_date_within_the_clock_skew_is_accepted(field):
    parse_article(article(**{field: iso(NOW + MAX_CLOCK_SKEW)}), now=NOW)


def test_far_future_version_is_refused_in_any_offset():
    found = problem(article(versionCreated="9999-12-30T00:00:00+08:00"))
    assert found["field"] == "versionCreated"


def test_the_clock_is_read_when_now_is_not_given():
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ProblemError) as info:
        parse_article(article(versionCreated=iso(tomorrow)))
    assert info.value.problem.field == "versionCreated"


def test_embargo_beyond_the_maximum_is_refused():
    found = problem(article(embargoedUntil=iso(NOW + MAX_EMBARGO + timedelta(minutes=1))))
    assert found["error"] == "embargo_too_far"
    assert found["field"] == "embargoedUntil"


def test_embargo_within_the_maximum_is_accepted():
    parsed = parse_article(article(embargoedUntil=iso(NOW + MAX_EMBARGO)), now=NOW)
    assert parsed.embargoedUntil == NOW + MAX_EMBARGO


def test_embargo_in_the_year_9999_is_refused():
    assert problem(article(embargoedUntil="9999-01-01T00:00:00Z"))["field"] == "embargoedUntil"


# --- problems ------------------------------------------------------------------------------


def test_problem_for_a_lone_surrogate_names_the_field_in_words():
    found = problem(article(headlines=[{"value": "x", "role": "\ud800"}]))
    assert found["field"] == "headlines.0.role"
    assert "lone surrogate" in found["detail"]


def test_problem_field_quoting_a_bad_key_is_valid_utf8():
    found = problem(article(associations={"k\ud800": {"uri": PHOTO}}))
    assert found["field"].startswith("associations.")
    found["field"].encode("utf-8")
    found["detail"].encode("utf-8")


def test_problem_detail_has_no_pydantic_prefix():
    assert problem(article(uri="javascript:alert(1)"))["detail"].startswith("uri: only")


# --- body pictures -------------------------------------------------------------------------


def test_body_picture_from_elsewhere_becomes_an_association():
    parsed = parse_article(
        article(bodies=[{"value": f'<p>前文<img src="{PHOTO}" alt="会场">后文</p>'}]), now=NOW
    )
    key = picture_key(PHOTO)
    picture = parsed.associations[key]
    assert (picture.uri, picture.description) == (PHOTO, "会场")
    assert parsed.body_html == f'<p>前文后文</p><figure data-association="{key}"></figure>'


def test_body_picture_uses_title_when_there_is_no_alt():
    parsed = parse_article(article(bodies=[{"value": f'<img src="{PHOTO}" title="标题">'}]))
    assert parsed.associations[picture_key(PHOTO)].description == "标题"


def test_the_same_body_twice_gives_the_same_document():
    doc = article(bodies=[{"value": f'<p>a</p><p><img src="{PHOTO}"></p>'}])
    first = canonical_doc(parse_article(doc, now=NOW))
    assert canonical_doc(parse_article(doc, now=NOW)) == first


def test_the_stored_document_posted_again_is_the_same_document():
    doc = article(bodies=[{"value": f'<p>a<img src="{PHOTO}"></p>'}])
    stored = canonical_doc(parse_article(doc, now=NOW))
    assert canonical_doc(parse_article(stored, now=NOW)) == stored


def test_a_posted_association_under_the_same_key_is_kept():
    key = picture_key(PHOTO)
    mine = {"type": "picture", "uri": PHOTO, "description": "我的说明"}
    parsed = parse_article(
        article(bodies=[{"value": f'<img src="{PHOTO}" alt="别的">'}], associations={key: mine})
    )
    assert parsed.associations[key].description == "我的说明"
    assert parsed.body_html == f'<figure data-association="{key}"></figure>'


@pytest.mark.parametrize("src", ["/images/a.jpg", "a.jpg", "data:image/png;base64,iVBORw0KGgo="])
def test_body_picture_without_a_web_source_is_removed(src):
    parsed = parse_article(article(bodies=[{"value": f'<p>文<img src="{src}"></p>'}]), now=NOW)
    assert parsed.body_html == "<p>文</p>"
    assert parsed.associations == {}


def test_too_many_body_pictures_are_refused_naming_the_associations():
    imgs = "".join(f'<img src="https://p.example/{i}.jpg">' for i in range(101))
    assert problem(article(bodies=[{"value": f"<p>{imgs}</p>"}]))["field"] == "associations"


def test_an_over_long_alt_text_is_refused_naming_the_picture():
    body = f'<img src="{PHOTO}" alt="{"说" * 20_001}">'
    found = problem(article(bodies=[{"value": body}]))
    assert found["field"] == f"associations.{picture_key(PHOTO)}.description"


def test_body_of_nothing_but_a_relative_picture_is_empty():
    found = problem(article(bodies=[{"value": '<img src="/a.jpg">'}]))
    assert (found["error"], found["field"]) == ("empty_body", "bodies.0.value")
