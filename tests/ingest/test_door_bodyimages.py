"""ingest.bodyimages: body ``<img>`` from other origins become figure placeholders."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.bodyimages import lift_images, picture_key
from ingest.sanitize import ActiveContent, sanitize_body
from tests.ingest.test_sanitize import html_ish

PHOTO = "https://photos.example.org/a.jpg"
KEY = picture_key(PHOTO)
FIG = f'<figure data-association="{KEY}"></figure>'


def lifted(markup: str):
    return lift_images(sanitize_body(markup))


def test_key_is_deterministic_and_fits_the_association_key_pattern():
    assert picture_key(PHOTO) == picture_key(PHOTO) != picture_key(PHOTO + "?2")
    assert len(KEY) <= 64 and KEY.replace("-", "").isalnum()


def test_picture_in_a_paragraph_moves_right_after_it():
    assert lifted(f'<p>前<img src="{PHOTO}">后</p><p>下段</p>').html == (
        f"<p>前后</p>{FIG}<p>下段</p>"
    )


def test_paragraph_left_empty_is_dropped():
    assert lifted(f'<p><img src="{PHOTO}"></p>').html == FIG


def test_picture_deep_in_a_list_moves_after_the_list():
    assert lifted(f'<ul><li><strong>a<img src="{PHOTO}"></strong></li></ul>').html == (
        f"<ul><li><strong>a</strong></li></ul>{FIG}"
    )


def test_picture_at_the_top_level_stays_in_place():
    assert lifted(f'文<img src="{PHOTO}">字').html == f"文{FIG}字"


def test_pictures_keep_their_order():
    other = "https://photos.example.org/b.jpg"
    out = lifted(f'<p><img src="{PHOTO}">x<img src="{other}"></p>')
    assert out.html == (f'<p>x</p>{FIG}<figure data-association="{picture_key(other)}"></figure>')
    assert list(out.pictures) == [KEY, picture_key(other)]


def test_the_same_picture_twice_is_one_association_in_two_places():
    out = lifted(f'<p><img src="{PHOTO}"></p><p>中</p><p><img src="{PHOTO}"></p>')
    assert out.html == f"{FIG}<p>中</p>{FIG}"
    assert list(out.pictures) == [KEY]


def test_alt_text_becomes_the_description():
    assert lifted(f'<img src="{PHOTO}" alt="会场 &amp; 观众">').pictures[KEY] == {
        "type": "picture",
        "uri": PHOTO,
        "description": "会场 & 观众",
    }


def test_picture_without_alt_or_title_has_no_description():
    assert "description" not in lifted(f'<img src="{PHOTO}">').pictures[KEY]


@pytest.mark.parametrize(
    "src", ["/a.jpg", "a.jpg", "//cdn.example/a.jpg", "data:image/gif;base64,R0lGODlh", ""]
)
def test_picture_without_a_web_source_is_removed(src):
    out = lifted(f'<p>文<img src="{src}" alt="x"></p>')
    assert (out.html, out.pictures) == ("<p>文</p>", {})


def test_body_without_pictures_is_unchanged():
    markup = '<p>正文 <a href="https://example.org/" rel="noopener noreferrer">链接</a></p><hr>'
    assert lift_images(markup).html == markup


def test_existing_placeholder_is_kept():
    markup = '<p>a</p><figure data-association="img1"></figure>'
    assert lift_images(markup).html == markup


def test_angle_bracket_in_an_attribute_does_not_confuse_the_tokenizer():
    out = lifted(f'<p><abbr title="a>b">x</abbr><img src="{PHOTO}" alt="1<2"></p>')
    assert out.html == f'<p><abbr title="a&gt;b">x</abbr></p>{FIG}'
    assert out.pictures[KEY]["description"] == "1<2"


# --- properties ----------------------------------------------------------------------------

IMG = [f'<img src="{PHOTO}">', '<img src="https://b.example/x.png" alt="b">', '<img src="/r">']
body_with_images = st.lists(st.one_of(st.sampled_from(IMG), html_ish), max_size=12).map("".join)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _FigureContext(HTMLParser):
    """Records the open elements around every figure placeholder, by its key."""

    VOID = frozenset({"br", "hr", "img", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.around: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        key = dict(attrs).get("data-association")
        if tag == "figure" and key:
            self.around.append((key, list(self.open)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]


def _sanitized(text: str) -> str | None:
    try:
        return sanitize_body(text)
    except ActiveContent:
        return None


@PROPERTY
@given(body_with_images)
def test_property_no_img_is_left_and_the_result_is_stable(text):
    clean = _sanitized(text)
    if clean is None:
        return
    out = lift_images(clean)
    assert "<img" not in out.html
    assert sanitize_body(out.html) == out.html
    assert lift_images(out.html).html == out.html


@PROPERTY
@given(body_with_images)
def test_property_a_new_figure_never_stands_inside_another_element(text):
    clean = _sanitized(text)
    if clean is None:
        return
    out = lift_images(clean)
    parser = _FigureContext()
    parser.feed(out.html)
    parser.close()
    assert all(not around for key, around in parser.around if key in out.pictures)


def test_html5_figure_becomes_the_placeholder_with_its_caption():
    out = lifted(f'<figure><img src="{PHOTO}"><figcaption>图1 <b>会场</b></figcaption></figure>')
    assert out.html == FIG
    assert out.pictures[KEY]["description"] == "图1 会场"


def test_html5_figure_keeps_a_different_alt_text_as_the_headline():
    out = lifted(f'<figure><img src="{PHOTO}" alt="全景"><figcaption>会场</figcaption></figure>')
    assert (out.pictures[KEY]["description"], out.pictures[KEY]["headline"]) == ("会场", "全景")


def test_html5_figure_with_more_than_a_picture_keeps_the_rest():
    out = lifted(f'<figure><p>文字</p><img src="{PHOTO}"></figure>')
    assert out.html == f"<figure><p>文字</p></figure>{FIG}"
