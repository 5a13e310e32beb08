"""The body of one webhook: a Standard Webhooks event for one change-log row.

    {"type": "article.<op>", "timestamp": "<when the change was made, RFC 3339>",
     "data": {"sequence": <change seq>, "operation": "<op>", "embargoed": <bool>,
              "item": <ninjs 3.1 item, or a tombstone for a withdrawal>}}

Made from the change row (the version as published), so every attempt and every resend of
a delivery sends the same bytes; only the ``webhook-timestamp`` header and signature differ.
"""

from __future__ import annotations

import json
from datetime import UTC

from shared import changes, ninjs
from shared.models import ChangeRow

TYPE_PREFIX = "article."


def event_type(op: str) -> str:
    return f"{TYPE_PREFIX}{op}"


def event(change: ChangeRow, guid: str, base: str) -> dict:
    embargoed = change.audience == changes.AUDIENCE_EMBARGO
    if change.op == changes.OP_WITHDRAWN or change.doc is None:
        item = ninjs.tombstone(change.article_id, change.version, change.at, change.source, guid)
    else:
        # An embargoed version has no live page yet: no ``html`` rendition to link to.
        item = ninjs.item(
            change.article_id, change.version, change.doc, change.media, base, page=not embargoed
        )
    return {
        "type": event_type(change.op),
        "timestamp": change.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "sequence": change.seq,
            "operation": change.op,
            "embargoed": embargoed,
            "item": item,
        },
    }


def body(change: ChangeRow, guid: str, base: str) -> bytes:
    return json.dumps(event(change, guid, base), ensure_ascii=False, separators=(",", ":")).encode()
