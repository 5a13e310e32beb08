"""Whether a rendition set may be served: only while a live article shows it
(shared.mediarefs). A picture page loads several renditions at once, so a "yes" is kept for
``TTL_S`` per process: a withdrawn article's picture stops being served within that, plus
whatever HTTP caches hold (media is sent as immutable; purge a CDN after a takedown:
docs/operations.md). A "no" is not kept, so a newly published article's pictures show at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from shared import mediarefs

TTL_S = 2.0
MAX_ENTRIES = 4096


class LiveMedia:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.clock = clock
        self._yes: dict[str, float] = {}  # set key -> until when a "yes" holds
        self._lock = threading.Lock()

    def is_live(self, set_key: str) -> bool:
        now = self.clock()
        until = self._yes.get(set_key)
        if until is not None and until > now:
            return True
        with self.sessions() as session:
            live = mediarefs.is_live(session, set_key)
        with self._lock:
            if not live:
                self._yes.pop(set_key, None)
                return False
            if len(self._yes) >= MAX_ENTRIES:
                self._yes.pop(next(iter(self._yes)))
            self._yes[set_key] = now + self.ttl
        return True
