"""Engine and session factory: SQLite (WAL) on a laptop, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    # Operators write postgres:// or postgresql://; we ship psycopg 3, so name its driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, immediate: bool = False) -> Engine:
    """``immediate``: writers on SQLite take the write lock when a transaction begins, so a
    read-then-write (an upsert) waits for its turn instead of failing half-way."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling is off (see _sqlite_pragmas), so we say BEGIN ourselves:
        # the recipe in SQLAlchemy's SQLite dialect documentation.
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the feed service read while the worker writes; busy_timeout waits for the
    # single writer instead of failing with "database is locked".
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
