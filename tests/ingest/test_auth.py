"""Keys on the live ingest server: every route walked from the app's own URL map, scopes,
revoked/expired keys, address allowlists, source binding, rotation, embargoed content and
the audit log."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from ingest import auth
from ingest.app import create_app
from ingest.context import IngestContext
from shared import access, keysecret, partners
from shared.models import utcnow
from tests.ingest.test_api_bad_input import article, now_shanghai

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def url_map(stack):
    """The live app's routes, from an app built with the stack's own settings."""
    app = create_app(stack.settings, IngestContext.build(stack.settings))
    return [
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "0" * 32, rule)


def call(stack, method: str, path: str, key: str | None = None, **kw) -> requests.Response:
    headers = kw.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, f"{stack.ingest}{path}", headers=headers, timeout=10, **kw)


def test_every_route_has_an_access_rule(url_map):
    missing = [(e, m, r) for e, m, r in url_map if e not in auth.RULES]
    assert not missing, f"routes without an access rule (add them to ingest.contract): {missing}"


def test_a_route_without_a_rule_is_closed():
    found = access.decide(None, None, "127.0.0.1", None, b"x" * 32, utcnow())
    assert isinstance(found, partners.Refusal) and found.status == 403


def test_every_guarded_route_answers_401_without_a_key(stack, url_map):
    # /metrics has a rule of its own (access.METRICS: tests/e2e/test_metrics.py).
    guarded = [
        (e, m, r) for e, m, r in url_map if auth.RULES[e] not in (access.PUBLIC, access.METRICS)
    ]
    assert {e for e, _, _ in guarded} >= {
        "ingest.post_article", "ingest.post_media", "ingest.get_article",
    }  # fmt: skip
    for endpoint, method, rule in guarded:
        resp = call(stack, method, concrete(rule))
        assert resp.status_code == 401, (endpoint, resp.status_code, resp.text)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer"), endpoint
        assert resp.json()["error"] == "missing_key"


def test_every_scoped_route_answers_403_to_a_key_without_the_scope(stack, url_map):
    key = stack.new_partner(["content:read"])
    scoped = [
        (e, m, r)
        for e, m, r in url_map
        if auth.RULES[e] not in (access.PUBLIC, access.ANY_KEY, access.METRICS)
    ]
    assert scoped
    for endpoint, method, rule in scoped:
        resp = call(stack, method, concrete(rule), key)
        assert resp.status_code == 403, (endpoint, resp.text)
        body = resp.json()
        assert body["error"] == "insufficient_scope"
        assert auth.RULES[endpoint] in body["detail"]
        assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


def test_public_routes_answer_without_a_key(stack, url_map):
    for endpoint, method, rule in url_map:
        if auth.RULES[endpoint] == access.PUBLIC and "<" not in rule:
            assert call(stack, method, rule).status_code == 200, endpoint


def test_a_malformed_authorization_header_is_a_401(stack):
    resp = call(stack, "POST", "/v1/articles", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_authorization"


def test_a_revoked_key_is_refused(stack):
    key = stack.new_partner(["ingest:write"], ["tests"])
    assert stack_post(stack, key).status_code == 202
    with stack.writes() as session:
        partners.revoke(session, partners.parse_key_id(key), utcnow())
    resp = stack_post(stack, key)
    assert resp.status_code == 401
    assert resp.json()["error"] == "revoked_key"
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_an_expired_key_is_refused(stack):
    key = stack.new_partner(["ingest:write"], ["tests"], expires=utcnow() - timedelta(seconds=1))
    resp = stack_post(stack, key)
    assert resp.status_code == 401
    assert resp.json()["error"] == "expired_key"


def test_a_key_from_a_disallowed_address_is_refused(stack):
    key = stack.new_partner(["ingest:write"], ["tests"], allow_ips=["192.0.2.0/24"])
    resp = stack_post(stack, key)
    assert resp.status_code == 403
    assert resp.json()["error"] == "address_not_allowed"


def test_a_key_from_an_allowed_address_is_accepted(stack):
    key = stack.new_partner(["ingest:write"], ["tests"], allow_ips=["127.0.0.0/8"])
    assert stack_post(stack, key).status_code == 202


def test_a_key_writes_only_its_own_sources(stack):
    key = stack.new_partner(["ingest:write"], ["example"])
    doc = article()  # source "tests"
    resp = call(stack, "POST", "/v1/articles", key, json=doc)
    assert resp.status_code == 403
    body = resp.json()
    assert (body["error"], body["field"]) == ("source_not_allowed", "source")
    with stack.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM articles WHERE guid = :g"), {"g": doc["guid"]}
        ).scalar()
    assert stored == 0


def test_the_grace_period_of_a_rotated_key_ends(stack):
    old = stack.new_partner(["ingest:write"], ["tests"])
    with stack.writes() as session:
        name = session.scalar(
            sa.text(
                "SELECT p.name FROM partners p JOIN api_keys k ON k.partner_id = p.id "
                "WHERE k.id = :k"
            ),
            {"k": partners.parse_key_id(old)},
        )
        new = partners.rotate_key(
            session, name, keysecret.secret_bytes(stack.settings), utcnow(), timedelta(seconds=2)
        )
    assert stack_post(stack, old).status_code == 202
    time.sleep(2.2)
    assert stack_post(stack, old).json()["error"] == "expired_key"
    assert stack_post(stack, new.key).status_code == 202


def test_status_is_for_the_source_or_an_admin(stack):
    posted = stack.post(article()).json()
    other = stack.new_partner(["ingest:write"], ["example"])
    admin = stack.new_partner(["admin"])
    writer = stack.new_partner(["ingest:write"], ["tests"])
    path = f"/v1/articles/{posted['id']}"
    assert call(stack, "GET", path, other).status_code == 404
    assert call(stack, "GET", path, admin).status_code == 200
    assert call(stack, "GET", path, writer).status_code == 200


def test_embargoed_content_is_shown_only_with_embargo_read(stack):
    until = (utcnow() + timedelta(days=2)).isoformat()
    doc = article(embargoedUntil=until)
    posted = stack.post(doc).json()
    path = f"/v1/articles/{posted['id']}"
    try:
        plain = call(stack, "GET", path, stack.new_partner(["admin"])).json()
        assert plain["embargoed"] is True and plain["article"] is None
        seer = call(stack, "GET", path, stack.new_partner(["admin", "embargo:read"])).json()
        assert seer["embargoed"] is True
        assert seer["article"]["headlines"][0]["value"] == "测试标题"
    finally:
        # Withdrawn, so it does not wait in "queued" for two days (stack.wait_idle).
        gone = stack.post({**doc, "pubStatus": "canceled", "versionCreated": now_shanghai()})
        assert gone.status_code == 202, gone.text


def test_requests_with_a_key_are_audited(stack):
    key = stack.new_partner(["ingest:write"], ["tests"])
    resp = stack_post(stack, key)
    body = resp.json()
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT method, route, status, article_id, version, client FROM audit_log "
                "WHERE key_id = :k"
            ),
            {"k": partners.parse_key_id(key)},
        ).all()
    assert [tuple(r) for r in rows] == [
        ("POST", "/v1/articles", 202, body["id"], body["version"], "127.0.0.1")
    ]


def test_a_refused_request_is_audited_with_its_status(stack):
    key = stack.new_partner(["ingest:write"], ["example"])
    stack_post(stack, key)
    with stack.engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM audit_log WHERE key_id = :k"),
            {"k": partners.parse_key_id(key)},
        ).scalar()
    assert status == 403


def stack_post(stack, key: str) -> requests.Response:
    return call(stack, "POST", "/v1/articles", key, json=article())
