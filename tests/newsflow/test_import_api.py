"""`newsflow import --api` sends articles as UTF-8 JSON, byte for byte what the in-process
path sends, so a CJK article that fits the body limit in process fits over HTTP too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from werkzeug import Request, Response

from newsflow.clients import HttpIngest
from tests.conftest import SEED

HEADLINE = "学精神 担重任 高起点开启科协发展新征程"
ACCEPTED = {"result": "created", "id": "a" * 32, "version": 1, "status": "queued"}


def test_import_api_sends_cjk_as_utf8_json(httpserver, tmp_path):
    httpserver.expect_request("/v1/articles", method="POST").respond_with_json(ACCEPTED, 202)
    (tmp_path / "no-images").mkdir()
    result = subprocess.run(
        [
            sys.executable, "-m", "newsflow", "import", "--api", httpserver.url_for("/"),
            "--key", "nf_live_aaaaaaaaaaaaaaaa_" + "A" * 43,
            "--images", str(tmp_path / "no-images"),
            str(SEED / "scimall-2017-12-04-imast.txt"),
        ],
        env={**os.environ, "NEWSFLOW_DATA_DIR": str(tmp_path / "data")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    request, _ = httpserver.log[-1]
    raw = request.get_data()
    assert request.mimetype == "application/json"
    assert HEADLINE.encode("utf-8") in raw
    assert b"\\u" not in raw
    assert request.headers["Authorization"] == "Bearer nf_live_aaaaaaaaaaaaaaaa_" + "A" * 43


def test_a_cjk_article_is_sent_at_its_utf8_size(httpserver):
    seen: list[bytes] = []

    def record(request: Request) -> Response:
        seen.append(request.get_data())
        return Response(json.dumps(ACCEPTED), 202, content_type="application/json")

    httpserver.expect_request("/v1/articles", method="POST").respond_with_handler(record)
    doc = {"headlines": [{"value": "标题"}], "bodies": [{"value": "段" * 1_200_000}]}
    answer = HttpIngest(httpserver.url_for("/")).post_article(doc)
    assert answer.status == 202
    # 3.6 MB in UTF-8, under the 5 MiB article limit; as \uXXXX escapes it would be 7.2 MB.
    assert len(seen[0]) == len(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    assert len(seen[0]) < 5 * 1024 * 1024
