"""Hypothesis strategies for hostile articles, built from the schema itself.

``leaf_paths(ArticleIn)`` walks the pydantic model (nested models, lists, dicts and their keys)
and names every leaf: ``headlines[].value``, ``associations{key}``,
``associations{}.renditions[].width``. ``articles(...)`` then builds a JSON document for
``POST /v1/articles`` in which the chosen *hot* leaves carry hostile values (arbitrary text with
control characters, lone surrogates, U+FFFE, RTL marks, markup, very long strings; script and
off-site URLs; dates at year 1 and 9999 with ±14 h offsets; names past 255 bytes; wrong JSON
types) and every other leaf a value that is valid input but still tricky to output (markup
characters, quotes, ``]]>``, RTL marks, CJK). A field added to the schema is walked like the
others, so it gets hostile values without a change here.

Pictures are fetched by the worker, so their URIs are never a host name that would need DNS
(a lookup leaves the machine, and an unresolvable name is a transient failure retried for
minutes): they are uploads, the local test server, IP literals the fetcher refuses before any
connection (link-local, private), or not http(s) at all.
"""

from __future__ import annotations

import html
import types
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st
from pydantic import AnyUrl, AwareDatetime, BaseModel

# --- the schema's leaves ---------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """A place in the document a value goes: its path and what kind of value it holds."""

    path: str
    kind: str  # text, line, url, date, enum, int, key, html
    options: tuple = ()  # the allowed values of an enum
    pattern: str | None = None
    max_length: int | None = None


def _unwrap(annotation) -> tuple[object, list]:
    """The type inside Optional[...] / Annotated[...], and the constraints met on the way."""
    metadata: list = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation = args[0]
            for meta in args[1:]:
                metadata += [meta, *getattr(meta, "metadata", [])]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                raise TypeError(f"the strategy cannot walk the union {annotation!r}")
            annotation = args[0]
        else:
            return annotation, metadata


def _constraint(metadata: list, name: str):
    return next((getattr(m, name) for m in metadata if getattr(m, name, None) is not None), None)


def _leaf_kind(path: str, annotation, metadata: list) -> Leaf:
    pattern = _constraint(metadata, "pattern")
    max_length = _constraint(metadata, "max_length")
    name = path.rsplit(".", 1)[-1]
    if typing.get_origin(annotation) is typing.Literal:
        return Leaf(path, "enum", options=typing.get_args(annotation))
    if annotation is AwareDatetime or annotation is datetime:
        return Leaf(path, "date")
    if annotation is int:
        return Leaf(path, "int")
    is_url_type = isinstance(annotation, type) and issubclass(annotation, AnyUrl)
    if is_url_type or name in ("uri", "href", "url"):
        return Leaf(path, "picture-uri" if _is_picture(path) else "url", max_length=max_length)
    if annotation is str:
        kind = "html" if path == "bodies[].value" else "text"
        return Leaf(path, kind, pattern=pattern, max_length=max_length)
    raise TypeError(f"the strategy has no values for {path}: {annotation!r}")


def _is_picture(path: str) -> bool:
    return path == "associations{}.uri"


def leaf_paths(model: type[BaseModel], prefix: str = "") -> list[Leaf]:
    """Every leaf of ``model``, depth first, in field order."""
    leaves = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        leaves += _walk(path, info.annotation, list(info.metadata))
    return leaves


def _walk(path: str, annotation, metadata: list) -> list[Leaf]:
    annotation, more = _unwrap(annotation)
    metadata = metadata + more
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return leaf_paths(annotation, f"{path}.")
    if origin is list:
        (item,) = typing.get_args(annotation)
        return _walk(f"{path}[]", item, [])
    if origin is dict:
        key, value = typing.get_args(annotation)
        _, key_meta = _unwrap(key)
        key_leaf = Leaf(f"{path}{{key}}", "key", pattern=_constraint(key_meta, "pattern"))
        return [key_leaf, *_walk(f"{path}{{}}", value, [])]
    return [_leaf_kind(path, annotation, metadata)]


# --- values ----------------------------------------------------------------------------------

# Text the schema accepts in a one-line field, but that an output must escape.
TRICKY_TEXT = [
    "<b>粗体</b> & <i>italic</i>",
    'Tom & "Jerry" <tom@example.org>',
    "]]> <![CDATA[ x ]]>",
    "\u202e\u200fRTL override\u202c \u05e2\u05d1\u05e8\u05d9\u05ea",
    "' onmouseover='alert(1)",
    "</title><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }} ${7*7} {% raw %}",
    "😀 emoji and \U0001f1e8\U0001f1f3 flags",
    "内蒙古自治区科学技术协会",
    "&amp; &lt;script&gt; &#0; &#xFFFE;",
    "javascript:alert(1)",
]
WORDS = st.sampled_from(["科协", "新闻", "science", "Nachricht", "новости", "ニュース", "أخبار"])
PLAIN_TEXT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)

# Hostile text: what a broken or malicious sender can put in any string.
NASTY_TEXT = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "]]>",
    "]]><script>alert(1)</script><![CDATA[",
    "\u202e\u200f\u200e\u2066\u2069",
    "\ufffe",
    "\uffff",
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00inside",
    "\x1b[31mred\x1b[0m",
    "\x7f\x85\x9f",
    "\u2028\u2029",
    "   ",
    "\t\n\r",
    "\u3000\u3000",  # ideographic spaces only
    "",
    "x" * 1001,
    "x" * 20_001,
    "名" * 100_000,
    "' onmouseover='alert(1)' x='",
    "</textarea></style></title><script>alert(1)</script>",
    "{{ config }}",
    "&#0;&#xD800;&#xFFFE;",
    "%00%2e%2e%2f",
]
# Names become feed file names and URL path segments: lengths around the 255-byte NAME_MAX.
NASTY_NAMES = [
    "a" * 247,
    "a" * 255,
    "a" * 256,
    "名" * 82,  # 246 bytes
    "名" * 85,  # 255 bytes
    "名" * 86,  # 258 bytes
    "😀" * 64,  # 256 bytes
    ".",
    "..",
    "../../etc/passwd",
    "a/b",
    "a\\b",
    "?x=1#frag",
    "%2F",
    "CON",
    " leading and trailing ",
]
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and controls too
NASTY_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "//evil.example/x",
    "/relative/path?q=1",
    "relative/path",
    "#fragment",
    "?query=1",
    "https://evil.example/x.jpg",
    "http://203.0.113.7/page",
    'http://evil.example/"><script>alert(1)</script>',
    "http://evil.example/' onmouseover='alert(1)",
    "https://例え.テスト/パス?q=値",
    "file:///etc/passwd",
    "mailto:someone@example.org",
    "ftp://evil.example/",
    "http://",
    "https://a b/",
    "",
    " ",
]
# Picture URIs the worker may try: never a name that needs DNS (see the module docstring).
NASTY_PICTURE_URIS = [
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
    "vbscript:msgbox(1)",
    "//evil.example/x.jpg",
    "/relative.jpg",
    "relative.jpg",
    "http://169.254.169.254/latest/meta-data/x.jpg",
    "http://10.0.0.1/x.jpg",
    "http://[fe80::1]/x.jpg",
    "http://0.0.0.0/x.jpg",
    "http://[::ffff:169.254.169.254]/x.jpg",
    "file:///etc/passwd",
    "urn:newsflow:media:sha256:" + "0" * 64,
    "urn:newsflow:media:sha256:../../etc/passwd",
    "",
    " ",
]
NASTY_DATES = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
    "9999-12-31T23:59:59.999999+14:00",
    "2017-12-04T00:00:00+14:00",
    "2017-12-04T00:00:00-14:00",
    "2017-12-04T00:00:00+23:59",
    "2017-12-04T00:00:00+24:00",
    "2017-12-04T00:00:00",
    "2017-12-04",
    "2017-02-30T00:00:00Z",
    "２０１７-12-04T00:00:00Z",
    "now",
    "",
    0,
    -62135596800,
    253402300800,
    10**20,
]
WRONG_TYPES = [None, 0, 1.5, True, [], {}, ["x"], {"value": "x"}, float("nan"), float("inf")]
NASTY_INTS = [-1, 0, 2**31, 2**63, 2**64, 10**100, 1.5, "12", True, None]
NASTY_HTML = [
    "<script>alert(1)</script><p>x</p>",
    '<p>x</p><img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
    '<p><img src="https://198.51.100.7/pixel.gif" alt="tracker"></p>',
    '<p><img src="//198.51.100.7/pixel.gif"></p>',
    '<p><img src="x"></p>',
    '<p><a href="//evil.example/">protocol-relative</a></p>',
    "<svg><script>alert(1)</script></svg>",
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<style>@import url(//evil.example/x.css);</style><p>styled</p>",
    '<p style="background:url(//evil.example/bg.png)">styled</p>',
    '<div><base href="//evil.example/"><a href="x">based</a></div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)"><p>x</p>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="//evil.example/x.swf"></object>',
    '<table><tr><td background="//evil.example/bg.png">cell</td></tr></table>',
    "<![CDATA[ ]]> ]]> <!-- comment --> <p>after</p>",
    "<p>unclosed <b>bold <i>italic",
    "<li><table><li>mis-nested",
    '<figure data-association="../../x"></figure><p>x</p>',
    "   ",
    "",
]


def _nasty_text(max_size: int = 60) -> st.SearchStrategy:
    return st.one_of(
        st.sampled_from(NASTY_TEXT),
        st.sampled_from(NASTY_NAMES),
        st.text(ANY_CHAR, max_size=max_size),
        st.tuples(st.sampled_from(NASTY_TEXT), st.text(ANY_CHAR, max_size=8)).map("".join),
        st.sampled_from(WRONG_TYPES),
    )


def _date_text(moment: datetime) -> str:
    return moment.isoformat()


FIXED_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def _nasty_dates() -> st.SearchStrategy:
    extreme = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=FIXED_OFFSETS
    ).map(_date_text)
    return st.one_of(st.sampled_from(NASTY_DATES), extreme, st.sampled_from(WRONG_TYPES))


def hostile(leaf: Leaf) -> st.SearchStrategy:
    """Anything at all for this leaf."""
    if leaf.kind == "date":
        return _nasty_dates()
    if leaf.kind == "int":
        return st.one_of(st.sampled_from(NASTY_INTS), st.integers())
    if leaf.kind == "enum":
        return st.one_of(st.sampled_from(leaf.options), _nasty_text())
    if leaf.kind == "url":
        return st.one_of(st.sampled_from(NASTY_URLS), _nasty_text(30))
    if leaf.kind == "picture-uri":
        return st.one_of(st.sampled_from(NASTY_PICTURE_URIS), st.sampled_from(WRONG_TYPES))
    if leaf.kind == "html":
        return st.one_of(
            st.sampled_from(NASTY_HTML),
            st.tuples(st.sampled_from(NASTY_HTML), _nasty_text()).map(
                lambda t: t[0] + (t[1] if isinstance(t[1], str) else "")
            ),
            _nasty_text(),
        )
    if leaf.kind == "key":
        return st.one_of(
            st.sampled_from(["../x", "a" * 65, "<script>", "", "img 1", "图", "a.b", "\x00"]),
            st.text(ANY_CHAR, max_size=10),
        )
    return _nasty_text()


# --- valid (but tricky) values ---------------------------------------------------------------


@dataclass
class Env:
    """What the running test provides: a fresh suffix for upsert keys, where pictures live."""

    nonce: str
    picture_uris: list[str]  # an upload, the local server's good, 404 and not-an-image URLs
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


BENIGN_URLS = [
    "https://example.org/news/2017/12/04/a.html",
    "https://example.org/path?q=1&r=2#part",
    "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html",
    "https://example.org/%E6%96%B0%E9%97%BB",
]
RECENT = st.datetimes(
    min_value=datetime(2017, 1, 1), max_value=datetime(2026, 1, 1), timezones=FIXED_OFFSETS
).map(_date_text)

# Valid values where a generic text would not be (patterns, fixed vocabularies).
SPECIFIC = {
    "language": st.sampled_from(["zh-CN", "en", "en-GB", "ja", "ar", "he"]),
    "bodies[].contenttype": st.just("text/html"),
    "headlines[].role": st.just("main"),
    "bodies[].role": st.just("main"),
    "pubStatus": st.just("usable"),  # withheld/canceled withdraw the article: hostile only
    # A phone line is free text; an e-mail or web contact must be an address (the door).
    "infoSources[].contactInfo[].type": st.just("phone"),
    "associations{}.renditions[].contenttype": st.sampled_from(["image/jpeg", "image/webp"]),
}


def benign(leaf: Leaf, env: Env) -> st.SearchStrategy:
    if leaf.path in SPECIFIC:
        return SPECIFIC[leaf.path]
    if leaf.path == "source":
        # The suite key writes only its own sources; the guid keeps examples apart.
        return st.just("prop-hostile")
    if leaf.path == "guid":
        return st.just(f"hostile-{env.nonce}")
    if leaf.kind == "date":
        return RECENT
    if leaf.kind == "int":
        return st.integers(1, 4000)
    if leaf.kind == "enum":
        return st.sampled_from(leaf.options)
    if leaf.kind == "picture-uri":
        return st.sampled_from(env.picture_uris)
    if leaf.kind == "url":
        return st.sampled_from(BENIGN_URLS)
    if leaf.kind == "key":
        return st.sampled_from(["img1", "img-2", "photo_3"])
    if leaf.kind == "html":
        return st.sampled_from(["<p>正文。</p>", "<p>Text &amp; <b>bold</b></p><h2>小标题</h2>"])
    if leaf.pattern:
        return st.from_regex(leaf.pattern, fullmatch=True)
    return st.one_of(PLAIN_TEXT, st.sampled_from(TRICKY_TEXT))


# Fields the worker fills in: a client sends them only as hostile input.
OUTPUT_ONLY = {"associations{}.renditions"}

# --- documents -------------------------------------------------------------------------------


@dataclass
class Case:
    """One generated article and where its hostile values went."""

    doc: dict
    hot: dict[str, object] = field(default_factory=dict)  # concrete path -> hostile value
    leaves: dict[str, str] = field(default_factory=dict)  # concrete path -> leaf path

    def describe(self) -> str:
        return ", ".join(f"{p}={_short(v)}" for p, v in self.hot.items()) or "(no hostile field)"


def _short(value: object, limit: int = 80) -> str:
    text = ascii(value)
    size = f"{len(value)} chars" if isinstance(value, str) else f"{len(text)} characters written"
    return text if len(text) <= limit else f"{text[:limit]}... ({size})"


class _Builder:
    def __init__(self, draw, hot: set[str], env: Env, leaves: dict[str, Leaf], fixed: dict) -> None:
        self.draw, self.hot, self.env, self.leaves = draw, hot, env, leaves
        self.fixed = fixed
        self.case = Case({})

    def hostile(self, leaf: Leaf) -> st.SearchStrategy:
        return st.just(self.fixed[leaf.path]) if leaf.path in self.fixed else hostile(leaf)

    def value(self, leaf_path: str, concrete: str):
        leaf = self.leaves[leaf_path]
        if leaf_path in self.hot:
            value = self.draw(self.hostile(leaf))
            self.case.hot[concrete] = value
            self.case.leaves[concrete] = leaf_path
            return value
        return self.draw(benign(leaf, self.env))

    def is_hot_under(self, prefix: str) -> bool:
        return any(p.startswith(prefix) for p in self.hot)

    def model(self, model: type[BaseModel], prefix: str, concrete: str) -> dict:
        doc = {}
        for name, info in model.model_fields.items():
            leaf_path, where = f"{prefix}{name}", f"{concrete}{name}"
            required = info.is_required()
            optional = not required and not self.is_hot_under(leaf_path)
            if optional and (leaf_path in OUTPUT_ONLY or self.draw(st.booleans())):
                continue
            doc[name] = self.field(leaf_path, where, info.annotation)
        return doc

    def field(self, path: str, concrete: str, annotation):
        annotation, _ = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.model(annotation, f"{path}.", f"{concrete}.")
        if origin is list:
            (item,) = typing.get_args(annotation)
            low = 1 if self.is_hot_under(f"{path}[]") or path in ("headlines", "bodies") else 0
            count = self.draw(st.integers(low, max(low, 2)))
            return [self.field(f"{path}[]", f"{concrete}.{i}", item) for i in range(count)]
        if origin is dict:
            _, value = typing.get_args(annotation)
            low = 1 if self.is_hot_under(path) else 0
            result = {}
            for _ in range(self.draw(st.integers(low, max(low, 2)))):
                key_leaf = self.leaves[f"{path}{{key}}"]
                if key_leaf.path in self.hot:
                    key = self.draw(self.hostile(key_leaf))
                    self.case.hot[f"{concrete}.{key}"] = key
                    self.case.leaves[f"{concrete}.{key}"] = key_leaf.path
                else:
                    key = self.draw(benign(key_leaf, self.env))
                result[key] = self.field(f"{path}{{}}", f"{concrete}.{key}", value)
            return result
        return self.value(path, concrete)


def _figures(doc: dict) -> str:
    associations = doc.get("associations")
    keys = list(associations) if isinstance(associations, dict) else []
    return "".join(
        f'<p>段落{i}。</p><figure data-association="{html.escape(k)}"></figure>'
        for i, k in enumerate(keys)
    )


@st.composite
def articles(
    draw, model: type[BaseModel], hot: set[str], env: Env, fixed: dict | None = None
) -> Case:
    """An article for ``model`` whose ``hot`` leaves (leaf paths) hold hostile values: drawn,
    or the value ``fixed`` gives for the leaf."""
    leaves = {leaf.path: leaf for leaf in leaf_paths(model)}
    unknown = hot - set(leaves)
    if unknown:
        raise ValueError(f"no such leaves: {sorted(unknown)}")
    builder = _Builder(draw, hot | set(fixed or {}), env, leaves, fixed or {})
    doc = builder.model(model, "", "")
    # Pictures stand in the text where a figure names them, as the seed export places them.
    for body in doc.get("bodies", []) if isinstance(doc.get("bodies"), list) else []:
        if isinstance(body, dict) and "bodies[].value" not in hot:
            body["value"] = str(body.get("value", "")) + _figures(doc)
    builder.case.doc = doc
    return builder.case
