"""Which rendition sets live articles show (shared.mediarefs), on both stores: a set stays
live while any article shows it."""

from __future__ import annotations

import uuid

from shared import mediarefs
from shared.db import make_engine, make_sessionmaker


def media(*sets: str, failed: str | None = None) -> dict:
    out = {f"p{i}": {"status": "ok", "set": s, "renditions": []} for i, s in enumerate(sets)}
    if failed:
        out["bad"] = {"status": "failed", "reason": failed}
    return out


def test_only_pictures_made_count():
    assert mediarefs.sets_of(media("a", "b", failed="refused")) == {"a", "b"}
    assert mediarefs.sets_of(None) == set()


def test_a_shared_set_stays_live_until_its_last_article_goes(database_url):
    sessions = make_sessionmaker(make_engine(database_url, immediate=True))
    shared, own = uuid.uuid4().hex, uuid.uuid4().hex
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    with sessions.begin() as session:
        mediarefs.replace(session, first, media(shared, own))
        mediarefs.replace(session, second, media(shared))
    with sessions.begin() as session:
        mediarefs.drop(session, first)
    with sessions() as session:
        assert mediarefs.is_live(session, shared)
        assert not mediarefs.is_live(session, own)
    with sessions.begin() as session:
        mediarefs.drop(session, second)
    with sessions() as session:
        assert not mediarefs.is_live(session, shared)


def test_an_update_that_drops_a_picture_stops_serving_it(database_url):
    sessions = make_sessionmaker(make_engine(database_url, immediate=True))
    kept, dropped, article = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    with sessions.begin() as session:
        mediarefs.replace(session, article, media(kept, dropped))
    with sessions.begin() as session:
        mediarefs.replace(session, article, media(kept))
    with sessions() as session:
        assert mediarefs.is_live(session, kept)
        assert not mediarefs.is_live(session, dropped)
