"""Files generated from the code, committed so readers find them without running anything,
and checked in CI (``newsflow schema --check``) so none goes stale: the article JSON Schema
and each service's OpenAPI document. Here, in the composition root, because it is the one
package that may import every service's contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _article_schema() -> str:
    from shared.schema_file import render

    return render()


def _ingest_openapi() -> str:
    from ingest import contract
    from shared import openapi

    return openapi.dumps(contract.document())


def _feed_openapi() -> str:
    from feed import contract
    from shared import openapi

    return openapi.dumps(contract.document())


def files() -> dict[Path, Callable[[], str]]:
    from shared.schema_file import SCHEMA_PATH

    return {
        SCHEMA_PATH: _article_schema,
        ROOT / "docs" / "openapi" / "ingest.json": _ingest_openapi,
        ROOT / "docs" / "openapi" / "feed.json": _feed_openapi,
    }
