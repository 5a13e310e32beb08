"""``newsflow import``: seed-format files through the ingest path, images uploaded first."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.importers.scimall import ImportFormatError, ParsedArticle, parse
from newsflow.clients import IngestClient


@dataclass
class FileResult:
    path: Path
    ok: bool
    message: str
    warnings: list[str] = field(default_factory=list)
    article_id: str | None = None


def _drop_image(parsed: ParsedArticle, key: str) -> None:
    parsed.doc["associations"].pop(key, None)
    body = parsed.doc["bodies"][0]
    body["value"] = re.sub(rf'\n?<figure data-association="{key}"></figure>', "", body["value"])


def _attach_images(
    parsed: ParsedArticle, images_dir: Path | None, client: IngestClient, path: Path
) -> list[str]:
    warnings = []
    for key, name in parsed.images:
        file = (images_dir / name) if images_dir else None
        if file is None or not file.is_file():
            where = f"in {images_dir}" if images_dir else "(no --images directory given)"
            warnings.append(
                f"{path}: warning: image {name} not found {where}; published without it"
            )
            _drop_image(parsed, key)
            continue
        answer = client.post_media(file.read_bytes(), name)
        if answer.status != 201:
            warnings.append(f"{path}: warning: image {name} refused: {answer.body.get('detail')}")
            _drop_image(parsed, key)
            continue
        parsed.doc["associations"][key]["uri"] = answer.body["uri"]
    return warnings


def import_file(
    path: Path, client: IngestClient, images_dir: Path | None, source: str
) -> FileResult:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return FileResult(path, False, f"{path}: cannot read: {exc.strerror}")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return FileResult(path, False, f"{path}:{line}: not UTF-8 text (byte {exc.start})")
    try:
        parsed = parse(text, str(path), source=source)
    except ImportFormatError as exc:
        return FileResult(path, False, str(exc))
    # The export keeps its pictures in images/ beside the text files.
    images_dir = images_dir or (
        path.parent / "images" if (path.parent / "images").is_dir() else None
    )
    warnings = _attach_images(parsed, images_dir, client, path)
    answer = client.post_article(parsed.doc)
    if answer.status not in (200, 202):
        detail = answer.body.get("detail")
        field_ = answer.body.get("field")
        return FileResult(
            path,
            False,
            f"{path}: refused by ingest ({answer.status}): {detail} [{field_}]",
            warnings,
        )
    b = answer.body
    return FileResult(
        path, True, f"{path}: {b['result']} {b['id']} version {b['version']}", warnings, b["id"]
    )


def import_files(
    paths: list[Path],
    client: IngestClient,
    images_dir: Path | None,
    source: str,
    echo: Callable[[str], None] = print,
) -> list[FileResult]:
    results = []
    for path in paths:
        result = import_file(path, client, images_dir, source)
        for warning in result.warnings:
            echo(warning)
        echo(result.message)
        results.append(result)
    return results
