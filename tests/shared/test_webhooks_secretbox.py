"""Signing secrets: sealed at rest, and signatures that the standardwebhooks package (what
partners verify with) accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.webhooks import secretbox

SERVER = b"k" * 32
BODY = b'{"type":"article.published","data":{"sequence":7}}'


def headers(signature: str, ts: int, msg_id: str = "msg_1") -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def now() -> int:
    return int(datetime.now(UTC).timestamp())


def test_a_new_secret_is_whsec_and_32_random_bytes():
    secret = secretbox.new_secret()
    assert secret.startswith("whsec_")
    assert len(secretbox.secret_bytes(secret)) == 32
    assert secret != secretbox.new_secret()


def test_standardwebhooks_verifies_our_signature():
    secret, ts = secretbox.new_secret(), now()
    sig = secretbox.signature_header([secret], "msg_1", ts, BODY)
    assert Webhook(secret).verify(BODY, headers(sig, ts))["data"]["sequence"] == 7


def test_a_changed_body_does_not_verify():
    secret, ts = secretbox.new_secret(), now()
    sig = secretbox.signature_header([secret], "msg_1", ts, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"7", b"8"), headers(sig, ts))


def test_during_a_rotation_either_secret_verifies():
    old, new, ts = secretbox.new_secret(), secretbox.new_secret(), now()
    sig = secretbox.signature_header([new, old], "msg_1", ts, BODY)
    assert len(sig.split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers(sig, ts))


def test_a_sealed_secret_opens_only_for_its_endpoint_and_server_secret():
    secret = secretbox.new_secret()
    sealed = secretbox.seal(SERVER, "ep_a", secret)
    assert secret not in sealed
    assert secretbox.unseal(SERVER, "ep_a", sealed) == secret
    with pytest.raises(secretbox.SecretError):
        secretbox.unseal(SERVER, "ep_b", sealed)  # copied onto another row
    with pytest.raises(secretbox.SecretError):
        secretbox.unseal(b"x" * 32, "ep_a", sealed)  # another server secret
