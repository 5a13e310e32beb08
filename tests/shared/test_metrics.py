"""shared.metrics: who may read /metrics, and the webhook hook's closed label set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics


def test_loopback_may_scrape_without_a_token():
    assert metrics.may_scrape("", None, "127.0.0.1", forwarded=False) is None
    assert metrics.may_scrape("", None, "::1", forwarded=False) is None


@pytest.mark.parametrize("addr", ["10.0.0.5", "203.0.113.9", None, "not-an-address"])
def test_other_addresses_are_refused_without_a_token(addr):
    refusal = metrics.may_scrape("", None, addr, forwarded=False)
    assert refusal is not None and refusal.status == 403


def test_loopback_relayed_by_a_proxy_is_refused_without_a_token():
    refusal = metrics.may_scrape("", None, "127.0.0.1", forwarded=True)
    assert refusal is not None and refusal.status == 403


def test_with_a_token_any_address_that_sends_it_may_scrape():
    assert metrics.may_scrape("s3cret", "Bearer s3cret", "203.0.113.9", forwarded=True) is None


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "s3cret", "Basic s3cret", "Bearer \udc80"]
)
def test_with_a_token_everyone_else_is_refused_even_on_loopback(header):
    refusal = metrics.may_scrape("s3cret", header, "127.0.0.1", forwarded=False)
    assert refusal is not None and refusal.status == 401


def _webhook_samples() -> dict[str, float]:
    text = metrics.exposition().decode()
    return {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "newsflow_webhook_deliveries"
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_the_webhook_hook_counts_by_outcome_and_folds_unknown_ones():
    before = _webhook_samples()
    metrics.webhook_delivery("delivered")
    metrics.webhook_delivery("some text a caller made up")
    after = _webhook_samples()
    assert after["delivered"] == before.get("delivered", 0) + 1
    assert after["other"] == before.get("other", 0) + 1
    assert "some text a caller made up" not in after


# --- docs/operations.md stays true to the metrics ------------------------------------

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
# Read at scrape time by the worker (render.observe.Backlog), not registered here.
COLLECTED = {
    "newsflow_queue_depth",
    "newsflow_outbox_backlog",
    "newsflow_outbox_oldest_age_seconds",
}


def _registered() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter | Histogram):
            names.add(value._name + ("_total" if isinstance(value, Counter) else ""))
    return names


def _documented() -> set[str]:
    section = OPERATIONS.read_text(encoding="utf-8").split("## Metrics", 1)[1]
    return set(re.findall(r"^\| `(newsflow_[a-z_]+)` \|", section, re.M))


def test_every_metric_is_documented_and_every_documented_one_exists():
    assert _documented() == _registered() | COLLECTED


def test_the_alert_rules_are_valid_yaml_naming_only_existing_metrics():
    section = OPERATIONS.read_text(encoding="utf-8").split("## Metrics", 1)[1]
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", section, re.S) if "groups:" in b)
    rules = yaml.safe_load(block)["groups"][0]["rules"]
    assert len(rules) == 3
    known = _registered() | COLLECTED
    for rule in rules:
        assert rule["alert"] and rule["expr"] and rule["for"]
        for name in re.findall(r"newsflow_[a-z_]+", rule["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert name in known or base in known, (rule["alert"], name)
