"""Opaque cursors of the partner pull API.

A cursor names a position in the change log (a sequence number) for one partner and one set
of filters, and is signed with the server secret, so a partner cannot forge a position, and
a cursor made for another partner or for other filters is refused (400) rather than silently
walking a different stream. Nothing in it is secret; it is opaque so that its form may change
(the ``v1`` prefix says which form a cursor has).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

VERSION = "v1"
MAX_LENGTH = 200


class BadCursor(ValueError):
    pass


def _mac(secret: bytes, partner_id: str, scope: str, seq: int) -> str:
    message = f"{VERSION}|{partner_id}|{scope}|{seq}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def encode(secret: bytes, partner_id: str, scope: str, seq: int) -> str:
    """``scope``: the filters the cursor was made for, in a canonical form."""
    return f"{VERSION}.{seq}.{_mac(secret, partner_id, scope, seq)}"


def decode(secret: bytes, partner_id: str, scope: str, cursor: str) -> int:
    if len(cursor) > MAX_LENGTH or not cursor.isascii():
        raise BadCursor("not a cursor of this API")
    parts = cursor.split(".")
    if len(parts) != 3 or parts[0] != VERSION or not parts[1].isdigit() or len(parts[1]) > 19:
        raise BadCursor("not a cursor of this API")
    seq = int(parts[1])
    if not hmac.compare_digest(parts[2], _mac(secret, partner_id, scope, seq)):
        raise BadCursor(
            "this cursor was made for another key's partner or other filters; "
            "start again without a cursor (or with `since`)"
        )
    return seq
