"""The artifact store: one contract (``interfaces.py``), swappable backends (``local.py``, the
embedded default; ``s3.py``, the scale-out path), chosen by ``ARTIFACT_STORE``.

    from shared.artifacts import open_store
    store = open_store(settings)   # LocalArtifactStore or S3ArtifactStore
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.artifacts.interfaces import (
    KEY_MAX_BYTES,
    NAME_MAX_BYTES,
    Artifact,
    ArtifactInfo,
    ArtifactStore,
    BadKey,
    ForwardingStore,
    StoreUnavailable,
    check_key,
)
from shared.artifacts.local import LocalArtifactStore

if TYPE_CHECKING:
    from shared.settings import Settings

__all__ = [
    "KEY_MAX_BYTES",
    "NAME_MAX_BYTES",
    "Artifact",
    "ArtifactInfo",
    "ArtifactStore",
    "BadKey",
    "ForwardingStore",
    "LocalArtifactStore",
    "StoreUnavailable",
    "check_key",
    "open_store",
]


def open_store(settings: Settings) -> ArtifactStore:
    """The backend the settings name: ``s3://bucket/prefix`` or a local directory."""
    if settings.artifacts_remote:
        # Imported here: boto3 costs a quarter of a second to import, and the embedded
        # default never needs it.
        from shared.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore.from_url(
            settings.artifact_store, endpoint_url=settings.s3_endpoint_url or None
        )
    return LocalArtifactStore(settings.artifacts_dir)
