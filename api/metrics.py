"""Prometheus metrics: request counts and latencies from this process; job counters and queue
depth read from Redis at scrape time, because workers are other processes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.celery_app import ANALYZE_QUEUE, CALLBACK_QUEUE
from shared.settings import Settings
from shared.store import Store


class _StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counters = self._store.counters()
        descriptions = {
            "executions": "Analysis task executions started by workers",
            "succeeded": "Analyses that succeeded",
            "failed": "Analyses that failed",
            "dedup_hits": "Uploads answered from a stored analysis",
            "enqueued": "Analyses enqueued",
        }
        for name, text in descriptions.items():
            yield CounterMetricFamily(f"readface_{name}", text, value=counters[name])
        depth = GaugeMetricFamily("readface_queue_depth", "Messages waiting", labels=["queue"])
        for queue in (ANALYZE_QUEUE, CALLBACK_QUEUE):
            depth.add_metric([queue], self._store.queue_depth(queue))
        yield depth


# Every label value is a time series kept for the life of the process, so each label takes its
# values from a bounded set: 5,000 requests with made-up methods would grow /metrics from 23 KB to
# 9.6 MB. The endpoint is the route's rule or "unmatched"; the status is bounded by HTTP.
KNOWN_METHODS = frozenset({"GET", "POST", "DELETE", "HEAD", "OPTIONS", "PUT", "PATCH"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """The method as a label value: one of KNOWN_METHODS, else "other"."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


class Metrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        # The workers' engine as configured: the API and the workers read the same environment
        # in every deployment. Each result's `model` says the precision it really ran at (`fast`
        # runs fp32, and says `exact`, on a CPU without bf16).
        Gauge(
            "readface_engine_info",
            "Inference engine and precision configured (READFACE_ENGINE, READFACE_PRECISION)",
            ["engine", "precision"],
            registry=self.registry,
        ).labels(settings.engine, settings.precision).set(1)
        self._requests = Counter(
            "readface_http_requests",
            "HTTP requests",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "readface_http_request_seconds",
            "HTTP request latency",
            ["method", "endpoint"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self._store_collector: _StoreCollector | None = None

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one request; endpoint must be a route rule or "unmatched" (bounded)."""
        method = method_label(method)
        self._requests.labels(method, endpoint, str(status)).inc()
        self._latency.labels(method, endpoint).observe(seconds)

    def render(self, store: Store) -> bytes:
        if self._store_collector is None:
            self._store_collector = _StoreCollector(store)
            self.registry.register(self._store_collector)
        return generate_latest(self.registry)
