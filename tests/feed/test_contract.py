"""The feed service's routes: each has an access rule (reader routes public), and its
OpenAPI 3.1 document is valid and served as generated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from feed import auth, contract
from feed.app import create_app
from shared import access
from tests.contract_run import keeps_its_contract

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def url_map(stack):
    app = create_app(stack.settings, sender=lambda *a, **k: None)
    return [(r.endpoint, r.rule) for r in app.url_map.iter_rules()]


def test_every_route_has_an_access_rule(url_map):
    missing = [(e, r) for e, r in url_map if e not in auth.RULES]
    assert not missing, f"routes without an access rule (add them to feed.contract): {missing}"


def test_reader_routes_stay_public():
    readers = ["feed.home", "feed.article", "feed.channel", "feed.media"]
    readers += ["directory.page", "directory.opml", "websub.hub", "feed.feed"]
    for endpoint in readers:
        assert auth.RULES[endpoint] == access.PUBLIC, endpoint


def test_the_document_is_valid_openapi_3_1():
    validate(contract.document())


def test_the_served_document_is_the_committed_one(stack):
    served = requests.get(f"{stack.feed}/openapi.json", timeout=10).json()
    assert served == json.loads((ROOT / "docs" / "openapi" / "feed.json").read_text())


def test_a_public_route_with_a_revoked_or_bogus_key_says_why(stack):
    resp = requests.get(
        f"{stack.feed}/feeds", headers={"Authorization": "Bearer nf_live_bogus"}, timeout=10
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_key"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_partner_routes_keep_the_contract(stack, tmp_path):
    keeps_its_contract(stack, stack.feed, tmp_path, 15, "--include-path-regex", "^/v1/partner")


def test_metrics_has_its_own_rule_and_is_no_partner_route():
    assert auth.RULES["observe.metrics_view"] == access.METRICS
    assert "/metrics" not in contract.document()["paths"]


def test_every_guarded_feed_route_is_401_without_a_key_and_403_without_its_scope(stack, url_map):
    """The walk ingest's tests make, over the feed service's keyed routes (the partner API)."""
    guarded = [(e, r) for e, r in url_map if auth.RULES[e] not in (access.PUBLIC, access.METRICS)]
    assert {e for e, _ in guarded} >= {"partner.items", "partner.item"}
    writer = stack.new_partner(["ingest:write"], ["tests"])
    for endpoint, rule in guarded:
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "0" * 32, rule)
        bare = requests.get(f"{stack.feed}{path}", timeout=10)
        assert bare.status_code == 401, (endpoint, bare.text)
        assert bare.json()["error"] == "missing_key"
        assert bare.headers["WWW-Authenticate"].startswith("Bearer")
        if auth.RULES[endpoint] == access.ANY_KEY:
            continue
        refused = requests.get(
            f"{stack.feed}{path}", headers={"Authorization": f"Bearer {writer}"}, timeout=10
        )
        assert refused.status_code == 403, (endpoint, refused.text)
        assert refused.json()["error"] == "insufficient_scope"
        assert auth.RULES[endpoint] in refused.json()["detail"]
