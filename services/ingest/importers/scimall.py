"""Parser for the portal export format of the seed articles (see newsflow/demo/seed/README.md).

Pure: text in, an article document and the image file names it cites out. Every refusal names
the file and the line, so a person can fix the file.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from shared.schema import XML_FORBIDDEN

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
IMAGE_LINE = re.compile(r"^[\w.-]+\.(?:jpe?g|png|gif|webp)$", re.IGNORECASE)
DATE_LINE = re.compile(r"^(?P<portal>.+?)\s+(?P<date>\d{4}-\d{2}-\d{2})$")
BYLINE = re.compile(r"\s*[(（](?P<name>[^()（）]{1,60})$")
CJK = re.compile(r"[\u3400-\u9fff]")
# A section heading is a short indented line that does not end a sentence.
SENTENCE_END = tuple('。!?！？;；:：…」』”".)')
HEADING_MAX = 40
TRAILERS = {
    "来源": "source",
    "原文链接": "link",
    "版权声明": "rights",
    "电话": "phone",
    "邮箱": "email",
}
RECOMMENDED = "推荐资讯"


class ImportFormatError(ValueError):
    def __init__(self, filename: str, line: int, message: str) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.filename, self.line, self.message = filename, line, message


@dataclass
class ParsedArticle:
    doc: dict
    images: list[tuple[str, str]] = field(default_factory=list)  # (association key, file name)


def _blocks(lines: list[str]) -> list[tuple[int, str]]:
    """(1-based line number, line) for each non-blank line; the format has one line a block."""
    return [(n, line.rstrip("\r")) for n, line in enumerate(lines, 1) if line.strip()]


def parse(text: str, filename: str, source: str = "scimall") -> ParsedArticle:
    # A byte order mark (Windows editors write one) is not part of the headline.
    text = text.removeprefix("\ufeff")
    bad = XML_FORBIDDEN.search(text)
    if bad:
        char = bad.group()
        what = "NUL byte" if char == "\x00" else f"control character U+{ord(char):04X}"
        line_no = text.count("\n", 0, bad.start()) + 1
        raise ImportFormatError(filename, line_no, f"{what}; the export is plain text")
    blocks = _blocks(text.split("\n"))
    if not blocks:
        raise ImportFormatError(filename, 1, "empty file: need headline, date line, body")
    hl_no, headline = blocks[0]
    if headline.startswith(" "):
        raise ImportFormatError(
            filename, hl_no, "the first line must be the headline (not indented)"
        )
    if len(blocks) < 2:
        raise ImportFormatError(
            filename, hl_no, "the file ends after the headline: need date line, body"
        )
    date_no, date_line = blocks[1]
    match = DATE_LINE.match(date_line.strip())
    if not match:
        raise ImportFormatError(
            filename, date_no, f"expected '<portal> YYYY-MM-DD', found {date_line.strip()[:60]!r}"
        )
    try:
        day = datetime.strptime(match["date"], "%Y-%m-%d").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise ImportFormatError(
            filename, date_no, f"{match['date']} is not a calendar date"
        ) from None
    if len(blocks) < 3:
        raise ImportFormatError(filename, date_no, "the file ends after the date line: no body")
    body, rest = _split_body(blocks[2:])
    if not body:
        # Point at the trailer that stands where the first paragraph should.
        raise ImportFormatError(filename, rest[0][0], "no paragraphs before the trailers")
    parts, images, byline = _body_html(body, filename)
    trailers, region, recommended = _trailers(rest, filename)
    doc = _document(
        headline.strip(), match["portal"], day, parts, byline, trailers, region, source, filename
    )
    if recommended:
        doc["recommended"] = {"heading": RECOMMENDED, "items": []}
    doc["associations"] = {
        key: {"type": "picture", "uri": "", "filename": name} for key, name in images
    }
    return ParsedArticle(doc=doc, images=images)


def _split_body(
    blocks: list[tuple[int, str]],
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    for i, (_, line) in enumerate(blocks):
        if _trailer_key(line) is not None:
            return blocks[:i], blocks[i:]
    return blocks, []


def _trailer_key(line: str) -> str | None:
    for label in TRAILERS:
        if line.startswith(label + ":") or line.startswith(label + "："):
            return label
    return None


def _body_html(
    body: list[tuple[int, str]], filename: str
) -> tuple[list[str], list[tuple[str, str]], str | None]:
    parts: list[str] = []
    images: list[tuple[str, str]] = []
    byline = None
    # The last paragraph carries the byline and is never a heading. An image line is no
    # paragraph, even when it is indented.
    paragraphs = [
        i
        for i, (_, line) in enumerate(body)
        if line.startswith(" ") and not IMAGE_LINE.match(line.strip())
    ]
    last_para = paragraphs[-1] if paragraphs else -1
    # A byline on a line of its own ("  (李琳"): the paragraph before it ends the text.
    last_text = last_para
    if len(paragraphs) > 1 and BYLINE.fullmatch(body[last_para][1].strip()):
        last_text = paragraphs[-2]
    for i, (no, line) in enumerate(body):
        stripped = line.strip()
        if IMAGE_LINE.match(stripped):
            key = f"img{len(images) + 1}"
            images.append((key, stripped))
            parts.append(f'<figure data-association="{key}"></figure>')
        elif line.startswith(" "):
            if i == last_para:
                m = BYLINE.search(stripped)
                if m:
                    byline = m["name"].strip()
                    stripped = stripped[: m.start()]
                    if not stripped:
                        continue
            if (
                len(stripped) <= HEADING_MAX
                and not stripped.endswith(SENTENCE_END)
                and i not in (last_para, last_text)
            ):
                parts.append(f"<h2>{html.escape(stripped, quote=False)}</h2>")
            else:
                parts.append(f"<p>{html.escape(stripped, quote=False)}</p>")
        else:
            raise ImportFormatError(
                filename,
                no,
                f"unexpected unindented line {stripped[:40]!r}: paragraphs are indented two spaces",
            )
    return parts, images, byline


def _trailers(
    rest: list[tuple[int, str]], filename: str
) -> tuple[dict[str, str], str | None, bool]:
    found: dict[str, str] = {}
    region = None
    recommended = False
    for no, line in rest:
        stripped = line.strip()
        label = _trailer_key(stripped)
        if label:
            value = stripped[len(label) + 1 :].strip()
            if TRAILERS[label] in found:
                raise ImportFormatError(filename, no, f"a second {label}: line; keep one")
            if not value:
                raise ImportFormatError(filename, no, f"{label}: has no value")
            found[TRAILERS[label]] = value
        elif line.startswith((" ", "\t")):
            # A paragraph that strayed below the trailers, not the region tag.
            raise ImportFormatError(
                filename,
                no,
                f"indented line after the trailers: {stripped[:40]!r}; paragraphs go before 来源:",
            )
        elif stripped == RECOMMENDED:
            recommended = True
        elif region is None and len(stripped) <= 20 and not recommended:
            region = stripped
        else:
            raise ImportFormatError(
                filename, no, f"unexpected line after the trailers: {stripped[:40]!r}"
            )
    return found, region, recommended


def _document(headline, portal, day, parts, byline, trailers, region, source, filename) -> dict:
    link = trailers.get("link")
    doc: dict = {
        "source": source,
        "guid": link or filename.rsplit("/", 1)[-1].removesuffix(".txt"),
        "language": "zh-CN" if CJK.search(headline) else "en",
        "versionCreated": day.isoformat(),
        "firstCreated": day.isoformat(),
        "headlines": [{"role": "main", "value": headline}],
        "bodies": [{"role": "main", "contenttype": "text/html", "value": "\n".join(parts)}],
        "infoSources": [],
        "places": [{"name": region}] if region else [],
    }
    if link:
        doc["uri"] = link
    if byline:
        doc["by"] = byline
    if "source" in trailers:
        original = {"name": trailers["source"], "role": "originalSource"}
        if link:
            original["uri"] = link
        doc["infoSources"].append(original)
    contacts = [
        {"type": kind, "value": trailers[kind]} for kind in ("phone", "email") if kind in trailers
    ]
    doc["infoSources"].append({"name": portal, "role": "publisher", "contactInfo": contacts})
    if "rights" in trailers:
        doc["copyrightNotice"] = trailers["rights"]
    return doc
