"""Requests the ingest server (gunicorn, as ``newsflow up`` runs it) cannot frame or must not
take whole, over raw sockets: each is a 4xx with the JSON error, never gunicorn's HTML page,
and a body over its route's limit is a 413 naming that limit, chunked or not."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.ingest.test_api_bad_input import article

CHUNK = 64 * 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def _connect(base: str) -> socket.socket:
    url = urlsplit(base)
    return socket.create_connection((url.hostname, url.port), timeout=30)


def _read_answer(sock: socket.socket) -> Answer:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # the server closed on a body it did not read; its answer came first
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(lines[0].split(" ")[1]), headers, body)


# The suite's key, sent on every write below: these are about framing, not keys, and the
# server checks the key before it reads a body.
KEY = {"value": ""}


@pytest.fixture(autouse=True)
def _key(stack):
    KEY["value"] = stack.key


def _auth() -> str:
    return f"Authorization: Bearer {KEY['value']}\r\n"


def raw(base: str, request: bytes) -> Answer:
    with _connect(base) as sock:
        sock.sendall(request)
        return _read_answer(sock)


def chunked(base: str, path: str, ctype: str, size: int) -> Answer:
    """POST ``size`` bytes as chunks; the server may answer and close before the end."""
    with _connect(base) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: ingest\r\nContent-Type: {ctype}\r\n{_auth()}"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
        )
        try:
            sent = 0
            while sent < size:
                part = b"a" * min(CHUNK, size - sent)
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                sent += len(part)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body: the answer is what counts
        return _read_answer(sock)


def assert_json_error(answer: Answer, status: int, error: str) -> dict:
    assert answer.status == status, answer
    assert answer.headers["content-type"].startswith("application/json"), answer
    body = answer.json()
    assert set(body) == {"error", "detail", "field"} and body["error"] == error, body
    return body


def post(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: ingest\r\n{_auth()}{headers}\r\n".encode() + body


def test_content_length_with_chunked_is_a_json_400(stack):
    answer = raw(
        stack.ingest,
        post(
            "/v1/articles",
            "Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n",
            b"2\r\n{}\r\n0\r\n\r\n",
        ),
    )
    body = assert_json_error(answer, 400, "bad_request")
    assert "CONTENT-LENGTH" in body["detail"]


def test_a_negative_content_length_is_a_json_400(stack):
    answer = raw(
        stack.ingest,
        post("/v1/articles", "Content-Type: application/json\r\nContent-Length: -1\r\n", b"{}"),
    )
    assert_json_error(answer, 400, "bad_request")


def test_two_hundred_header_fields_are_a_json_431(stack):
    fields = "".join(f"X-Field-{i}: v\r\n" for i in range(200))
    answer = raw(stack.ingest, f"GET /healthz HTTP/1.1\r\nHost: i\r\n{fields}\r\n".encode())
    assert_json_error(answer, 431, "header_fields_too_large")


def test_a_request_line_that_is_no_http_is_a_json_400(stack):
    answer = raw(stack.ingest, b"\x00\xff hello\r\n\r\n")
    assert_json_error(answer, 400, "bad_request")


def test_a_control_character_in_a_header_is_a_json_400(stack):
    answer = raw(stack.ingest, b"GET /healthz HTTP/1.1\r\nHost: i\r\nX-A: a\x01b\r\n\r\n")
    assert_json_error(answer, 400, "bad_request")


def test_an_over_long_request_line_is_a_json_414(stack):
    answer = raw(stack.ingest, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: i\r\n\r\n")
    assert_json_error(answer, 414, "uri_too_long")


def test_a_chunked_article_over_the_limit_is_a_413_naming_the_article_limit(stack):
    limit = stack.settings.max_body_bytes
    answer = chunked(stack.ingest, "/v1/articles", "application/json", limit + 1000)
    body = assert_json_error(answer, 413, "too_large")
    assert f"{limit}-byte limit for an article" in body["detail"]


def test_a_chunked_article_under_the_limit_is_taken(stack):
    data = json.dumps(article(), ensure_ascii=False).encode("utf-8")
    with _connect(stack.ingest) as sock:
        sock.sendall(
            b"POST /v1/articles HTTP/1.1\r\nHost: i\r\nContent-Type: application/json\r\n"
            + _auth().encode()
            + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
        )
        answer = _read_answer(sock)
    assert answer.status == 202, answer


def test_a_chunked_image_over_the_image_limit_is_a_413_naming_the_image_limit(stack):
    limit = stack.settings.max_image_bytes
    answer = chunked(stack.ingest, "/v1/media", "application/octet-stream", limit + 1000)
    body = assert_json_error(answer, 413, "too_large")
    assert f"{limit}-byte limit for an image" in body["detail"]


def test_an_image_with_a_content_length_over_the_limit_is_a_413_naming_the_image_limit(stack):
    limit = stack.settings.max_image_bytes
    answer = raw(
        stack.ingest,
        post(
            "/v1/media",
            f"Content-Type: application/octet-stream\r\nContent-Length: {limit + 1}\r\n",
            b"\x89PNG",
        ),
    )
    body = assert_json_error(answer, 413, "too_large")
    assert f"{limit}-byte limit" in body["detail"]
    assert str(stack.settings.max_body_bytes) not in body["detail"]


def test_an_image_larger_than_the_article_limit_is_taken(stack):
    # The image limit, not the article limit, applies to /v1/media.
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * (stack.settings.max_body_bytes + 1)
    answer = raw(
        stack.ingest,
        post(
            "/v1/media",
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n",
            data,
        ),
    )
    assert answer.status == 201, answer


def test_a_control_character_in_the_image_file_name_is_a_400_naming_it(stack):
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    answer = raw(
        stack.ingest,
        post(
            "/v1/media?filename=a%00b.png",
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n",
            data,
        ),
    )
    body = assert_json_error(answer, 400, "invalid_parameter")
    assert body["field"] == "filename"
