"""Keys for newsflow's own clients: the demo, an in-process import, the test suite and the
benchmarks. Each call revokes the client's older keys (shared.partners.issue_local_key)."""

from __future__ import annotations

from shared import keysecret, partners
from shared.db import make_engine, make_sessionmaker
from shared.models import utcnow
from shared.settings import Settings

# Our own bulk clients (an in-process import of a whole archive, the benchmarks, the test
# suite) are not partners to be throttled; the demo key keeps the default, as a partner's.
UNLIMITED = "1000000/minute"


def issue(
    settings: Settings,
    name: str,
    scopes: list[str],
    sources: list[str],
    rate_limit: str | None = None,
) -> str:
    engine = make_engine(settings.database_url, immediate=True)
    try:
        with make_sessionmaker(engine).begin() as session:
            new = partners.issue_local_key(
                session,
                name,
                scopes,
                sources,
                keysecret.secret_bytes(settings),
                utcnow(),
                rate_limit=rate_limit,
            )
    finally:
        engine.dispose()
    return new.key
