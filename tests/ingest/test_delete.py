"""DELETE /v1/articles/<id> on the live ingest server: a withdrawal by the article's own
source, a JSON 404 for anything else, idempotent when repeated."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from tests.ingest.test_api_bad_input import ERROR_KEYS, article

pytestmark = pytest.mark.e2e


def delete(stack, article_id: str, key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.delete(f"{stack.ingest}/v1/articles/{article_id}", headers=headers, timeout=10)


def posted(stack) -> dict:
    resp = stack.post(article())
    assert resp.status_code == 202, resp.text
    return resp.json()


def versions(stack, article_id: str) -> tuple[int, str]:
    with stack.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT version, status FROM articles WHERE id = :i"), {"i": article_id}
        ).one()
    return row.version, row.status


def assert_json_error(resp: requests.Response, status: int, error: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == ERROR_KEYS and body["error"] == error


def test_the_source_s_key_withdraws_as_a_new_version(stack):
    first = posted(stack)
    writer = stack.new_partner(["ingest:write"], ["tests"])
    resp = delete(stack, first["id"], writer)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["result"] == "updated" and body["status"] == "withdrawn"
    assert body["version"] == first["version"] + 1
    assert resp.headers["Location"] == body["statusUrl"]
    stored = stack.status(first["id"])
    assert stored["article"]["pubStatus"] == "canceled"


def test_a_repeated_delete_changes_nothing(stack):
    first = posted(stack)
    assert delete(stack, first["id"], stack.key).status_code == 202
    again = delete(stack, first["id"], stack.key)
    assert again.status_code == 200, again.text
    assert again.json()["result"] == "unchanged"
    assert versions(stack, first["id"]) == (first["version"] + 1, "withdrawn")


def test_an_unknown_id_is_a_json_404(stack):
    assert_json_error(delete(stack, "0" * 32, stack.key), 404, "not_found")


def test_a_malformed_id_is_a_json_404(stack):
    assert_json_error(delete(stack, "%00abc", stack.key), 404, "not_found")


def test_another_source_s_article_is_a_404_and_stays(stack):
    first = posted(stack)
    other = stack.new_partner(["ingest:write"], ["example"])
    assert_json_error(delete(stack, first["id"], other), 404, "not_found")
    assert versions(stack, first["id"])[0] == first["version"]


def test_an_admin_key_without_ingest_write_is_refused(stack):
    first = posted(stack)
    admin = stack.new_partner(["admin"])
    assert_json_error(delete(stack, first["id"], admin), 403, "insufficient_scope")
    assert versions(stack, first["id"])[0] == first["version"]


def test_no_key_is_a_401(stack):
    first = posted(stack)
    resp = delete(stack, first["id"], None)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert versions(stack, first["id"])[0] == first["version"]


def test_a_delete_equals_posting_pub_status_canceled(stack):
    doc = article()
    first = stack.post(doc).json()
    canceled = stack.post({**doc, "pubStatus": "canceled"})
    assert canceled.status_code == 202
    # The article is withdrawn already: DELETE finds nothing to change.
    again = delete(stack, first["id"], stack.key)
    assert again.status_code == 200 and again.json()["result"] == "unchanged"
