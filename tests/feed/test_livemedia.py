"""The feed service's answer to "may this rendition set be served" (feed.livemedia): a yes is
kept for a moment, a no never, on a real store."""

from __future__ import annotations

import uuid

from feed.livemedia import LiveMedia
from shared import mediarefs
from shared.db import make_engine, make_sessionmaker


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def setup(database_url):
    sessions = make_sessionmaker(make_engine(database_url, immediate=True))
    clock = Clock()
    return sessions, clock, LiveMedia(sessions, ttl=2.0, clock=clock)


def show(sessions, article: str, set_key: str | None) -> None:
    with sessions.begin() as session:
        if set_key is None:
            mediarefs.drop(session, article)
        else:
            mediarefs.replace(session, article, {"p": {"status": "ok", "set": set_key}})


def test_a_withdrawn_set_stops_being_served_once_the_yes_expires(database_url):
    sessions, clock, live = setup(database_url)
    article, set_key = uuid.uuid4().hex, uuid.uuid4().hex
    show(sessions, article, set_key)
    assert live.is_live(set_key)
    show(sessions, article, None)
    clock.now += 1.0
    assert live.is_live(set_key)  # within the moment a yes is kept
    clock.now += 1.5
    assert not live.is_live(set_key)


def test_a_newly_published_set_is_served_at_once(database_url):
    sessions, _clock, live = setup(database_url)
    article, set_key = uuid.uuid4().hex, uuid.uuid4().hex
    assert not live.is_live(set_key)
    show(sessions, article, set_key)
    assert live.is_live(set_key)  # a no was not kept
