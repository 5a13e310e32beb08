"""The gunicorn worker that runs the ingest API: gunicorn's own refusals answered as our JSON.

A request gunicorn cannot frame (Content-Length together with chunked, a negative
Content-Length, more header fields than ``limit_request_fields``, a bad request line) never
reaches the app: gunicorn answers it itself, with an HTML page (``gunicorn.util.write_error``).
This worker keeps gunicorn's decision (the status, the log lines, the access log) and sends
the same status with the JSON error every other answer carries (DESIGN rule 7).

Run with ``gunicorn --threads 4 --worker-class ingest.serving.JsonErrorThreadWorker``
(``newsflow.launcher``, docker-compose.yml: gunicorn's gthread worker), or
``JsonErrorWorker`` for the sync worker. A custom class replaces gunicorn's own choice of
gthread for ``--threads``, so the threaded one must be named.
"""

from __future__ import annotations

import json

from gunicorn import glogging, util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from shared import logs
from shared.errors import Problem
from shared.settings import Settings

_CODES = {
    400: "bad_request",
    403: "forbidden",
    413: "too_large",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "header_fields_too_large",
    501: "not_implemented",
}
_DETAIL_CHARS = 200


class _Captured:
    """Stands in for the client socket while gunicorn writes its HTML page, to learn the
    status it chose (the rest of that page is dropped)."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: int) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data


def error_answer(status: str, exc: BaseException) -> bytes:
    """The whole HTTP answer for ``status`` (``"400 Bad Request"``)."""
    code = int(status.split(" ", 1)[0])
    if code >= 500 and code != 501:
        body = Problem("internal_error", "an unexpected error occurred").as_json()
    else:
        # gunicorn's message names what it refused (it may quote the client's bytes: JSON
        # escapes them, and they are cut short).
        detail = f"the request cannot be read: {str(exc)[:_DETAIL_CHARS]}"
        body = Problem(_CODES.get(code, "bad_request"), detail).as_json()
    data = json.dumps(body).encode("utf-8")
    head = (
        f"HTTP/1.1 {status}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode("latin-1") + data


class JsonErrors:
    """Mixed into a gunicorn worker class: ``handle_error`` is the base Worker's, shared by
    the sync and gthread workers."""

    def handle_error(self, req, client, addr, exc) -> None:
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        status_line = captured.data.split(b"\r\n", 1)[0].decode("latin-1")
        status = status_line.partition(" ")[2] or "500 Internal Server Error"
        try:
            util.write_nonblock(client, error_answer(status, exc))
        except Exception:
            self.log.debug("Failed to send error message.")


class JsonErrorWorker(JsonErrors, SyncWorker):
    pass


class JsonErrorThreadWorker(JsonErrors, ThreadWorker):
    pass


class Logger(glogging.Logger):
    """gunicorn's own lines (the master's and the workers': starting, booting, timeouts) in
    the format of every other line (shared.logs, LOG_FORMAT): ``--logger-class
    ingest.serving.Logger``."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        formatter = logs.formatter("ingest", Settings.from_env().log_format)
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            handler.setFormatter(formatter)
