"""Two ways to reach the ingest path: over HTTP, or in this process through the same app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

import requests


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


class IngestClient(Protocol):
    def post_article(self, doc: dict) -> Answer: ...
    def post_media(self, data: bytes, filename: str) -> Answer: ...
    def status(self, article_id: str) -> Answer: ...


def json_bytes(doc: dict) -> bytes:
    """The article as UTF-8 JSON (RFC 8259 8.1), as the in-process path sends it.

    requests' ``json=`` escapes every non-ASCII character (``\\uXXXX``, 6 bytes for a CJK
    character's 3), so a CJK article that fits the ingest body limit in process would be
    refused as too large over HTTP."""
    try:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form: send it escaped and let ingest name the field.
        return json.dumps(doc).encode("ascii")


class HttpIngest:
    def __init__(self, base_url: str, timeout: float = 30, key: str | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        if key:
            self.http.headers["Authorization"] = f"Bearer {key}"

    def _answer(self, resp: requests.Response) -> Answer:
        try:
            body = resp.json()
        except ValueError:
            body = {"error": "bad_answer", "detail": resp.text[:200], "field": None}
        return Answer(resp.status_code, body)

    def post_article(self, doc: dict) -> Answer:
        resp = self.http.post(
            f"{self.base}/v1/articles",
            data=json_bytes(doc),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        return self._answer(resp)

    def post_media(self, data: bytes, filename: str) -> Answer:
        resp = self.http.post(
            f"{self.base}/v1/media?filename={quote(filename)}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=self.timeout,
        )
        return self._answer(resp)

    def status(self, article_id: str) -> Answer:
        return self._answer(
            self.http.get(f"{self.base}/v1/articles/{article_id}", timeout=self.timeout)
        )


class InProcessIngest:
    """The ingest app's own request path without a server (``newsflow import`` on a laptop),
    authenticated like any client: ``key`` is a key of newsflow's own (cli.local_key)."""

    def __init__(self, app, key: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {key}"}

    def post_article(self, doc: dict) -> Answer:
        resp = self.client.post("/v1/articles", json=doc, headers=self.headers)
        return Answer(resp.status_code, resp.get_json())

    def status(self, article_id: str) -> Answer:
        resp = self.client.get(f"/v1/articles/{article_id}", headers=self.headers)
        return Answer(resp.status_code, resp.get_json())

    def post_media(self, data: bytes, filename: str) -> Answer:
        resp = self.client.post(
            "/v1/media",
            query_string={"filename": filename},
            data=data,
            content_type="application/octet-stream",
            headers=self.headers,
        )
        return Answer(resp.status_code, resp.get_json())
