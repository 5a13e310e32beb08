"""The ingest API's OpenAPI 3.1 document: valid, served as generated, with a reference page
that loads nothing from elsewhere, and true of the live server (schemathesis)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from ingest import contract
from tests.contract_run import keeps_its_contract

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def test_the_document_is_valid_openapi_3_1():
    doc = contract.document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_guarded_operation_documents_401_403_and_429():
    doc = contract.document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "security" in op:
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)


def test_the_served_document_is_the_committed_one(stack):
    served = requests.get(f"{stack.ingest}/openapi.json", timeout=10).json()
    committed = json.loads((ROOT / "docs" / "openapi" / "ingest.json").read_text())
    assert served == committed


def test_the_reference_page_loads_nothing_from_elsewhere(stack):
    page = requests.get(f"{stack.ingest}/docs/", timeout=10)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, "the page names its scripts and styles"
    assert all(not re.match(r"^[a-z]+:|^//", u) for u in urls), urls
    for url in urls:
        resp = requests.get(f"{stack.ingest}/docs/{url}", timeout=10)
        assert resp.status_code == 200, url
    assert requests.get(f"{stack.ingest}/docs/init.js", timeout=10).status_code == 200
    assert "<script>" not in page.text, "no inline script: a strict CSP holds"
    assert requests.get(f"{stack.ingest}/docs/../../etc/passwd", timeout=10).status_code == 404


def test_the_live_server_keeps_the_contract(stack, tmp_path):
    keeps_its_contract(
        stack, stack.ingest, tmp_path, 10, "--exclude-path-regex", "^/(docs|openapi)"
    )


def test_metrics_has_its_own_rule_and_is_no_partner_route():
    from ingest import auth
    from shared import access

    assert auth.RULES["observe.metrics_view"] == access.METRICS
    assert "/metrics" not in contract.document()["paths"]
