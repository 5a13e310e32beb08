"""The feed service on an S3 store that does not answer: a 503 JSON error with Retry-After
(the artifact may well exist), never a 404 or a 500. (What a replica already holds is served
on: tests/feed/test_artifact_cache.py.)"""

from __future__ import annotations

import pytest

from feed.app import create_app
from shared import migrate
from shared.settings import Settings
from tests.conftest import S3_CREDENTIALS, free_port


@pytest.fixture
def client(tmp_path, redis_srv, monkeypatch):
    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    migrate.upgrade(url)
    settings = Settings.from_env(
        {
            "NEWSFLOW_DATA_DIR": str(tmp_path),
            "DATABASE_URL": url,
            "REDIS_URL": redis_srv.url,
            "ARTIFACT_STORE": "s3://newsflow/artifacts",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        }
    )
    app = create_app(settings, sender=lambda *a, **k: None)
    cache = app.extensions["newsflow"].artifacts
    cache.store.timeout = 1
    yield app.test_client()
    cache.listener.stop()


# Not /media/…: a set no live article shows is a 404 from the store's database before the
# artifact store is asked (feed.livemedia).
@pytest.mark.parametrize("path", ["/feeds/all.atom", "/articles/abc123", "/"])
def test_an_unreachable_store_is_a_503_json_error(client, path):
    resp = client.get(path)
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "unavailable"
    assert resp.headers["Retry-After"] == "5"
