"""The hub's sender on a hung broker (a listener that accepts and never answers): POST /hub
answers 503 within the sender's deadline, then at once while the breaker is open."""

from __future__ import annotations

import time

import pytest

from feed.app import create_app
from feed.broker import HUB_DEADLINE
from shared import migrate
from shared.settings import Settings
from tests.ingest.test_broker import HungPeer


@pytest.fixture
def hub(tmp_path):
    with HungPeer() as broker:
        url = f"sqlite:///{tmp_path / 'feed.db'}"
        migrate.upgrade(url)
        settings = Settings.from_env(
            {
                "NEWSFLOW_DATA_DIR": str(tmp_path),
                "DATABASE_URL": url,
                "REDIS_URL": broker.url,
                "FETCH_ALLOW_HOSTS": "127.0.0.1",
            }
        )
        app = create_app(settings)
        yield app.test_client(), settings.public_base_url


def unsubscribe(client, base: str):
    form = {
        "hub.mode": "unsubscribe",
        "hub.topic": f"{base}/feeds/all.atom",
        "hub.callback": "http://127.0.0.1:9/callback",
    }
    started = time.monotonic()
    resp = client.post("/hub", data=form)
    return resp, time.monotonic() - started


def test_a_hung_broker_makes_the_hub_answer_503_within_the_deadline(hub):
    resp, elapsed = unsubscribe(*hub)
    assert resp.status_code == 503 and resp.json["error"] == "unavailable"
    assert elapsed < HUB_DEADLINE + 0.3, f"answered after {elapsed:.2f}s"


def test_then_the_breaker_answers_503_at_once(hub):
    unsubscribe(*hub)
    resp, elapsed = unsubscribe(*hub)
    assert resp.status_code == 503
    assert elapsed < 0.1, f"answered after {elapsed:.2f}s"
