"""shared.logs: one JSON object a line, the context's fields on it, request ids checked."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from shared import logs


@pytest.fixture
def lines():
    """Log through a fresh setup into a buffer; yields a function returning the lines so far."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    logs.setup("test", logs.JSON, stream=buf)
    yield lambda: [json.loads(x) for x in buf.getvalue().splitlines()]
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logs.clear()


def test_a_line_carries_service_level_event_and_the_bound_context(lines):
    with logs.bound(request_id="r1", article_id="a1", version=2):
        logging.getLogger("x").warning("made %s", "it", extra={"outcome": "created"})
    (line,) = lines()
    assert line["service"] == "test" and line["level"] == "warning"
    assert line["event"] == "made it" and line["logger"] == "x"
    assert (line["request_id"], line["article_id"], line["version"]) == ("r1", "a1", 2)
    assert line["outcome"] == "created"


def test_a_librarys_extras_are_left_out(lines):
    """Celery logs every task's arguments in ``extra={"data": ...}``; a WebSub verification's
    include the subscriber's secret."""
    logging.getLogger("celery.app.trace").info(
        "Task t[1] succeeded", extra={"data": {"args": "['subscribe', 'hub-secret-123']"}}
    )
    (line,) = lines()
    assert "hub-secret-123" not in json.dumps(line)


def test_the_context_ends_with_its_block(lines):
    with logs.bound(request_id="r1"):
        pass
    logging.getLogger("x").info("after")
    assert "request_id" not in lines()[0]


def test_the_context_is_per_thread(lines):
    seen = []
    with logs.bound(request_id="main"):
        t = threading.Thread(target=lambda: seen.append(dict(logs.current())))
        t.start()
        t.join()
    assert seen == [{}]


def test_a_newline_in_a_value_cannot_start_a_forged_line(lines):
    logging.getLogger("x").info('evil\n{"level": "critical"}')
    assert len(lines()) == 1


def test_a_lone_surrogate_is_escaped_not_a_logging_error(lines):
    logging.getLogger("x").info("bad \udc80 text 内蒙")
    (line,) = lines()
    assert line["event"] == "bad \udc80 text 内蒙"


def test_an_exception_is_one_line_with_its_traceback(lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    (line,) = lines()
    assert "ValueError: boom" in line["exc"]


def test_console_lines_show_the_context_as_key_value():
    record = logging.LogRecord("x", logging.INFO, "", 0, "hello", None, None)
    with logs.bound(request_id="r1", article_id="a1"):
        text = logs.ConsoleFormatter("ingest").format(record)
    assert "INFO" in text and "ingest x: hello" in text
    assert text.endswith("request_id=r1 article_id=a1")


@pytest.mark.parametrize("value", ["abc", "req-1.2:3_x", "A" * logs.REQUEST_ID_MAX])
def test_a_plain_request_id_is_kept(value):
    assert logs.request_id_from(value) == (value, False)


@pytest.mark.parametrize(
    "value",
    ["a b", "a\nb", "<script>", "A" * (logs.REQUEST_ID_MAX + 1), "-leading", "内蒙", "a\x00"],
)
def test_a_hostile_request_id_is_replaced(value):
    rid, replaced = logs.request_id_from(value)
    assert replaced and rid != value and logs.valid_request_id(rid)


def test_no_request_id_gets_a_fresh_one():
    rid, replaced = logs.request_id_from(None)
    assert not replaced and len(rid) == 32


def test_a_line_for_a_file_is_in_the_chosen_format():
    assert json.loads(logs.line("newsflow", logs.JSON, "restarted"))["event"] == "restarted"
    assert "newsflow newsflow: restarted" in logs.line("newsflow", logs.CONSOLE, "restarted")
