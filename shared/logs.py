"""One logging setup for every process: JSON lines (operators) or console text (``newsflow up``).

Each line carries the service, level and event, and whatever the current context knows of
the work at hand: ``request_id``, ``article_id``, ``version``, ``task_id`` (and ``task``). The
context is a ``contextvars.ContextVar``, so it is per thread and per task and never leaks from
one request into the next: ingest binds the request id for a request, the relay binds what an
outbox row carries while it sends it, the worker binds the task's headers while it runs.

The stdlib ``logging`` module and a small Formatter, not structlog or python-json-logger: every
library we run (Celery, gunicorn, granian, SQLAlchemy, flask-limiter) logs through stdlib
``logging``, so a formatter on the root handler makes all their lines JSON too, with no second
logging system and no dependency.

A request id comes from the client's ``X-Request-ID`` when it is a plain token (at most
``REQUEST_ID_MAX`` characters of ``[A-Za-z0-9._:-]``), else a fresh one replaces it. A hostile
value (a newline to forge a log line, a megabyte, control characters) is never logged: only
its length is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from typing import Any, TextIO

JSON = "json"
CONSOLE = "console"
FORMATS = (JSON, CONSOLE)

# The fields a line takes from the context, in the order a console line shows them.
CONTEXT_FIELDS = ("request_id", "article_id", "version", "task", "task_id")
REQUEST_ID_MAX = 128
_REQUEST_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{REQUEST_ID_MAX - 1}}}")

_context: ContextVar[Mapping[str, Any]] = ContextVar("newsflow_log_context", default={})  # noqa: B039

# The ``extra=`` fields a line may carry, besides the context's. An allowlist, not all of a
# record's extras: a library's extras may hold secrets (Celery puts every task's arguments in
# ``data``, and a WebSub verification's arguments include the subscriber's hub.secret).
EXTRA_FIELDS = frozenset(
    {
        "outcome", "status", "error", "route", "method", "duration_ms", "outbox_id",
        "refused_length",
    }
)  # fmt: skip


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> bool:
    return value is not None and _REQUEST_ID.fullmatch(value) is not None


def request_id_from(header: str | None) -> tuple[str, bool]:
    """(the request id to use, whether the client's value was refused and replaced)."""
    if header is None or header == "":
        return new_request_id(), False
    if valid_request_id(header):
        return header, False
    return new_request_id(), True


def current() -> Mapping[str, Any]:
    """The fields bound in this context (a read-only view)."""
    return _context.get()


def bind(**fields: Any) -> Token:
    """Add fields to this context (None values are left out); ``reset`` the token to undo."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    return _context.set(merged)


def reset(token: Token) -> None:
    _context.reset(token)


def clear() -> None:
    _context.set({})


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out = dict(_context.get())
    for name in EXTRA_FIELDS.intersection(vars(record)):
        out[name] = getattr(record, name)
    return out


def _stamp(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Newlines and control characters inside values are escaped
    by JSON itself, so a value can never start a forged line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _stamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "event": record.getMessage(),
            "logger": record.name,
            "pid": record.process,
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        text = json.dumps(line, ensure_ascii=False, default=str)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in some value: escape, never fail
            text = json.dumps(line, ensure_ascii=True, default=str)
        return text


class ConsoleFormatter(logging.Formatter):
    """For a person at a terminal: time, level, service, event, then the context as k=v."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        ordered = [k for k in CONTEXT_FIELDS if k in fields] + sorted(
            k for k in fields if k not in CONTEXT_FIELDS
        )
        tail = " ".join(f"{k}={fields[k]}" for k in ordered)
        # repr() of the message keeps a hostile newline on its line here too.
        message = record.getMessage()
        if "\n" in message or "\r" in message:
            message = repr(message)
        text = f"{_stamp(record.created)} {record.levelname:<7} {self.service} {record.name}: "
        text += message + (f"  {tail}" if tail else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def formatter(service: str, fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    return JsonFormatter(service) if fmt == JSON else ConsoleFormatter(service)


def setup(
    service: str, fmt: str = JSON, level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """Make the root logger write ``fmt`` lines for ``service`` to ``stream`` (stderr), and
    every other logger propagate to it (gunicorn's and granian's own handlers included)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(service, fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # warnings.warn() lines (Celery's warning about running as root, deprecations) as lines
    # of the log too, not bare text on stderr between them.
    logging.captureWarnings(True)
    # Chatty at INFO and of no use to an operator: every SQL statement, every HTTP connection.
    for name in ("sqlalchemy.engine", "urllib3", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def line(service: str, fmt: str, event: str, level: str = "info", **fields: Any) -> str:
    """One line as ``setup`` would write it, for text written without a logger (the
    launcher's notes in a child's log file)."""
    record = logging.LogRecord("newsflow", logging.getLevelName(level.upper()), "", 0, event,
                               None, None)  # fmt: skip
    record.__dict__.update(fields)
    return formatter(service, fmt).format(record)


def dict_config(service: str, fmt: str) -> dict:
    """A ``logging.config.dictConfig`` document for servers configured by a file (granian's
    ``--log-config``): their own loggers write ``fmt`` lines for ``service`` to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "newsflow",
               "stream": "ext://sys.stderr"}  # fmt: skip
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"newsflow": {"()": "shared.logs.formatter", "service": service, "fmt": fmt}},
        "handlers": {"newsflow": handler},
        "loggers": {
            "_granian": {"handlers": ["newsflow"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["newsflow"], "level": "INFO", "propagate": False},
        },
    }
