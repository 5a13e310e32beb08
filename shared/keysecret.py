"""The server secret that API keys are hashed with (shared.partners).

Operators set ``NEWSFLOW_KEY_SECRET`` (at least 32 bytes; every ingest and feed process of a
deployment must share it). The embedded default has nobody to set it, so ``newsflow up`` and
the ``partner`` commands keep a random one in the data dir, readable by its owner only, and
hand it to their children through the environment like every other setting.
"""

from __future__ import annotations

import dataclasses
import os
import secrets

from shared.settings import Settings

MIN_BYTES = 32
FILE_NAME = "key-secret"


class KeySecretError(RuntimeError):
    pass


def secret_bytes(settings: Settings) -> bytes:
    raw = settings.key_secret.encode("utf-8")
    if len(raw) < MIN_BYTES:
        raise KeySecretError(
            "NEWSFLOW_KEY_SECRET is not set or shorter than 32 bytes; set it to a random value "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), the same "
            "in every ingest and feed process"
        )
    return raw


def ensure(settings: Settings) -> Settings:
    """Settings with a key secret: the configured one, else the data dir's (made once)."""
    if settings.key_secret:
        secret_bytes(settings)  # a configured secret that is too short is an error, not a fallback
        return settings
    path = settings.data_dir / FILE_NAME
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
    else:
        value = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value + "\n")
    return dataclasses.replace(settings, key_secret=value)
