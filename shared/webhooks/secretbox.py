"""Signing secrets: made once, shown once, kept encrypted, used to sign every attempt.

A Standard Webhooks secret is ``whsec_`` and the base64 of 24 to 64 random bytes (we make
32). Unlike an API key it must be read back to sign, so it cannot be hashed: it is sealed
with AES-256-GCM under a key derived (HKDF-SHA256, RFC 5869) from the server secret
(shared.keysecret), with the endpoint id as associated data so a sealed secret copied onto
another row does not open. A database dump alone does not give the secrets away.

The signature (Standard Webhooks, "Signature scheme"): ``v1,`` and the base64 of
HMAC-SHA256(secret bytes, ``{webhook-id}.{webhook-timestamp}.{body}``); several signatures
are separated by spaces (a rotation signs with the old and the new secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
SECRET_BYTES = 32
SEALED_PREFIX = "v1."
_INFO = b"newsflow webhook signing secrets v1"
_NONCE = 12


class SecretError(ValueError):
    """A sealed secret that does not open (another server secret, or a tampered row)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def _key(server_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(server_secret)


def seal(server_secret: bytes, endpoint_id: str, secret: str) -> str:
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(_key(server_secret)).encrypt(nonce, secret.encode(), endpoint_id.encode())
    return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def unseal(server_secret: bytes, endpoint_id: str, sealed: str) -> str:
    if not sealed.startswith(SEALED_PREFIX):
        raise SecretError(f"endpoint {endpoint_id}: unknown secret format")
    raw = base64.b64decode(sealed[len(SEALED_PREFIX) :])
    try:
        plain = AESGCM(_key(server_secret)).decrypt(
            raw[:_NONCE], raw[_NONCE:], endpoint_id.encode()
        )
    except InvalidTag:
        raise SecretError(
            f"endpoint {endpoint_id}: its secret does not open with this server secret "
            "(NEWSFLOW_KEY_SECRET changed?); rotate it with `newsflow partner webhook "
            "rotate-secret`"
        ) from None
    return plain.decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)
