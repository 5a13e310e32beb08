"""shared.httpmetrics: the batched counts come out as prometheus_client's own observe would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from shared.httpmetrics import ROUTE_KEY, HttpMetrics, _observe_many


def samples(text: str, name: str, **labels) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(name) and all(s.labels.get(k) == v for k, v in labels.items()):
                out[(s.name, s.labels.get("le"))] = s.value
    return out


def test_observations_added_in_bulk_expose_as_observed_one_by_one():
    values = [0.0001, 0.0002, 0.003, 0.003, 0.7, 20.0]
    one, bulk = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("h", "h", ["route"], buckets=metrics.HTTP_BUCKETS, registry=one)
    h2 = Histogram("h", "h", ["route"], buckets=metrics.HTTP_BUCKETS, registry=bulk)
    for v in values:
        h1.labels("r").observe(v)
    from bisect import bisect_left

    groups: dict[int, list[float]] = {}
    for v in values:
        groups.setdefault(bisect_left(metrics.HTTP_BUCKETS, v), []).append(v)
    for index, vs in groups.items():
        _observe_many(h2.labels("r"), index, len(vs), sum(vs))

    def parsed(registry):
        text = generate_latest(registry).decode()
        return {k: v for k, v in samples(text, "h").items() if not k[0].endswith("_created")}

    assert parsed(one) == parsed(bulk)
    assert parsed(one)[("h_count", None)] == len(values)


def app(environ, start_response):
    environ[ROUTE_KEY] = "/things/<id>" if environ["PATH_INFO"].startswith("/things/") else None
    start_response("201 Created", [])
    return [b""]


def test_requests_are_counted_by_route_template_method_and_status_once_flushed():
    wrapped = HttpMetrics(app)
    label = {"route": "/things/<id>", "method": "POST", "status": "201"}
    before = samples(metrics.exposition().decode(), "newsflow_http_requests_total", **label)
    for i in range(3):
        wrapped({"PATH_INFO": f"/things/{i}", "REQUEST_METHOD": "POST"}, lambda s, h: None)
    wrapped.flush()
    after = samples(metrics.exposition().decode(), "newsflow_http_requests_total", **label)
    key = ("newsflow_http_requests_total", None)
    assert after[key] == before.get(key, 0) + 3


def test_an_unknown_method_and_an_unmatched_path_make_no_new_series():
    wrapped = HttpMetrics(app)
    for i in range(5):
        wrapped({"PATH_INFO": f"/x{i}", "REQUEST_METHOD": f"BREW{i}"}, lambda s, h: None)
    wrapped.flush()
    text = metrics.exposition().decode()
    assert "BREW" not in text and "/x1" not in text
    assert samples(text, "newsflow_http_requests_total", route="unmatched", method="other")
