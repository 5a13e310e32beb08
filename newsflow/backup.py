"""The whole store as JSON lines, and back: a team moves from the embedded SQLite store to
PostgreSQL with ``newsflow backup FILE`` then ``newsflow restore FILE`` (then ``rebuild``).

Streaming both ways: rows are read in primary-key order a batch at a time (keyset pages, so
memory stays flat at 10^6 articles and no cursor is held open across the whole table) and
written a line at a time; a restore inserts a batch at a time. The first line names the
format and the schema revision; a restore refuses a file from another revision and a store
that is not empty, so it never mixes two histories.

Line format: ``{"newsflow-backup": 1, "revision": "0005", ...}`` then one
``{"t": table, "r": {column: value}}`` per row, datetimes as ISO 8601 with their offset.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, Table, func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from shared.models import Base, UTCDateTime

FORMAT = 1
BATCH = 1000


class BackupError(ValueError):
    """The file or the store is not what a restore needs; the message says what."""


def tables() -> list[Table]:
    """Every table, parents before children (foreign keys)."""
    return list(Base.metadata.sorted_tables)


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        # Level 6, gzip(1)'s default: Python's default of 9 made a backup twice as long for
        # a file 0.3% smaller (docs/benchmarks.md, Backup and restore).
        return gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6)
    return path.open(mode, encoding="utf-8")


def _encode(value):
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode(table: Table, row: dict) -> dict:
    out = {}
    for name, value in row.items():
        # Only a datetime column's value is decoded: a JSON column may hold anything.
        if isinstance(table.columns[name].type, UTCDateTime) and isinstance(value, dict):
            value = datetime.fromisoformat(value["$dt"])
        out[name] = value
    return out


def _rows(session: Session, table: Table, batch: int) -> Iterator[dict]:
    keys = list(table.primary_key.columns)
    last = None
    while True:
        query = select(table).order_by(*keys).limit(batch)
        if last is not None:
            # Keyset pagination over the (possibly composite) primary key.
            query = query.where(tuple_(*keys) > tuple_(*last))
        rows = session.execute(query).mappings().all()
        if not rows:
            return
        yield from (dict(r) for r in rows)
        last = [rows[-1][k.name] for k in keys]


def _snapshot(engine: Engine) -> Engine:
    """Every batch of a backup is read in one transaction, so the file is the store at one
    moment while ingest and the workers go on writing. PostgreSQL: REPEATABLE READ gives that
    transaction one snapshot (READ COMMITTED, the default, would see rows committed between
    batches: children without their parents). SQLite in WAL mode: a deferred BEGIN does (a
    reader sees the database as of its first read and never blocks the writer); BEGIN
    IMMEDIATE would hold the write lock for the whole backup and stall every writer."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return engine


def backup(engine: Engine, path: Path, batch: int = BATCH) -> dict[str, int]:
    """``engine``: a reader's (on SQLite, not ``make_engine(url, immediate=True)``)."""
    counts: dict[str, int] = {}
    with _open(path, "w") as out, Session(_snapshot(engine)) as session:
        header = {"newsflow-backup": FORMAT, "revision": revision(engine),
                  "tables": [t.name for t in tables()]}  # fmt: skip
        out.write(json.dumps(header) + "\n")
        for table in tables():
            counts[table.name] = 0
            for row in _rows(session, table, batch):
                line = {"t": table.name, "r": {k: _encode(v) for k, v in row.items()}}
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                counts[table.name] += 1
    return counts


def _check_empty(engine: Engine) -> None:
    with engine.connect() as conn:
        for table in tables():
            if conn.execute(select(func.count()).select_from(table)).scalar():
                raise BackupError(
                    f"the store is not empty (table {table.name} has rows); restore into an "
                    "empty store (a new database, migrated with `newsflow db upgrade`)"
                )


def _reset_sequences(engine: Engine) -> None:
    """PostgreSQL: serial ids continue after the restored ones (SQLite does this itself)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in tables():
            for column in table.primary_key.columns:
                if column.autoincrement is True or (
                    column.autoincrement == "auto" and column.type.python_type is int
                ):
                    # Names from our own models, never from the file.
                    seq = conn.execute(
                        text("SELECT pg_get_serial_sequence(:t, :c)"),
                        {"t": table.name, "c": column.name},
                    ).scalar()
                    top = conn.execute(select(func.max(column))).scalar() or 0
                    conn.execute(text("SELECT setval(:s, :v, false)"), {"s": seq, "v": top + 1})


@contextmanager
def _rollback_journal(conn: Connection) -> Iterator[None]:
    """SQLite: the restore's one transaction in rollback-journal mode, back to WAL after.

    In WAL mode every page the transaction writes goes to the WAL, and the WAL's index
    (mapped into the process) grows with it until the commit: 20 MiB more peak memory at
    10^6 articles. A rollback journal keeps only the pages the transaction changes, and an
    empty store has none, so memory stays flat and the restore is still all or nothing.
    The switch needs the only connection to the file; where another process has it open
    (the store of a running system), SQLite keeps WAL and so does this."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection  # outside SQLAlchemy's transaction: a PRAGMA
    patience = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout=0")  # the file in use: WAL at once, not after a wait
    try:
        switched = raw.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    except sqlite3.OperationalError:  # "database is locked"
        switched = False
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(patience)}")
    try:
        yield
    finally:
        # A process that opened the file meanwhile blocks this; every connection of ours
        # sets WAL itself when it opens (shared.db), so the store is in WAL either way.
        with suppress(sqlite3.OperationalError):
            if switched:
                raw.execute("PRAGMA journal_mode=WAL")


def restore(engine: Engine, path: Path, batch: int = BATCH) -> dict[str, int]:
    by_name = {t.name: t for t in tables()}
    with _open(path, "r") as src:
        try:
            header = json.loads(src.readline())
        except ValueError:
            raise BackupError(f"{path} is not a newsflow backup (no header line)") from None
        if not isinstance(header, dict) or header.get("newsflow-backup") != FORMAT:
            raise BackupError(f"{path} is not a newsflow backup of format {FORMAT}")
        here = revision(engine)
        if header.get("revision") != here:
            raise BackupError(
                f"{path} was made at schema revision {header.get('revision')}, this store is at "
                f"{here}; run the same newsflow version (`newsflow db upgrade` first)"
            )
        _check_empty(engine)
        counts = {name: 0 for name in by_name}
        pending: dict[str, list[dict]] = {}
        with engine.connect() as conn, _rollback_journal(conn), conn.begin():
            for number, line in enumerate(src, start=2):
                try:
                    item = json.loads(line)
                    table = by_name[item["t"]]
                    row = _decode(table, item["r"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise BackupError(f"{path}:{number}: not a backup row ({exc})") from None
                rows = pending.setdefault(table.name, [])
                rows.append(row)
                counts[table.name] += 1
                if len(rows) >= batch:
                    _flush(conn, by_name, pending, before=table.name)
            _flush(conn, by_name, pending, before=None)
    _reset_sequences(engine)
    return counts


def _flush(conn, by_name: dict[str, Table], pending: dict[str, list[dict]], before) -> None:
    """Insert the buffered rows, parents first (the file is in that order already)."""
    for name in [t.name for t in tables()]:
        rows = pending.get(name)
        if rows:
            conn.execute(insert(by_name[name]), rows)
            rows.clear()
        if name == before:
            break
