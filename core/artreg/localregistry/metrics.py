"""The registry's Prometheus metrics, served at ``/metrics`` in the text exposition format.

Each app has a registry of its own (several registries may run in one process). Request labels
are bounded: the route is one of a fixed set of names, never a path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .fsstore import GarbageReport
    from .store import Store

__all__ = ["CONTENT_TYPE", "METRICS_PATH", "RegistryMetrics"]

METRICS_PATH: Final = "/metrics"
#: The classic text format every Prometheus reads (what ``generate_latest`` writes for these
#: plain names); newer client releases announce ``version=1.0.0`` by default.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


class _StoreCollector(Collector):
    """Storage gauges read from the store at scrape time."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "artreg_registry_storage_bytes",
            "Bytes of blob and manifest content stored.",
            value=self._store.stored_bytes(),
        )
        yield GaugeMetricFamily(
            "artreg_registry_upload_sessions_open",
            "Upload sessions started and not yet finished, cancelled or purged.",
            value=self._store.open_uploads(),
        )


class RegistryMetrics:
    """Counters the app and the garbage collector update, and their rendering."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "artreg_registry_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "artreg_registry_http_request_duration_seconds",
            "Time from request to the end of the reply, by method and route.",
            ["method", "route"],
            registry=r,
        )
        self.received = Counter(
            "artreg_registry_http_received_bytes", "Request body bytes received.", registry=r
        )
        self.sent = Counter(
            "artreg_registry_http_sent_bytes", "Response body bytes sent.", registry=r
        )
        self.gc_runs = Counter(
            "artreg_registry_gc_runs", "Garbage collections run by this server.", registry=r
        )
        self.gc_removed = Counter(
            "artreg_registry_gc_removed",
            "Things garbage collection removed, by kind (blob, manifest, link, upload).",
            ["kind"],
            registry=r,
        )
        self.gc_freed = Counter(
            "artreg_registry_gc_freed_bytes",
            "Bytes of content garbage collection freed.",
            registry=r,
        )
        self.gc_last = Gauge(
            "artreg_registry_gc_last_run_timestamp_seconds",
            "When the last garbage collection finished (Unix time).",
            registry=r,
        )
        self.gc_seconds = Gauge(
            "artreg_registry_gc_last_run_duration_seconds",
            "How long the last garbage collection took.",
            registry=r,
        )
        for kind in ("blob", "manifest", "link", "upload"):
            self.gc_removed.labels(kind)  # present (at 0) before the first run
        r.register(_StoreCollector(store))

    def observe(
        self, method: str, route: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        if received:
            self.received.inc(received)
        if sent:
            self.sent.inc(sent)

    def collected(self, report: GarbageReport) -> None:
        """Count one garbage collection."""
        self.gc_runs.inc()
        self.gc_removed.labels("blob").inc(len(report.removed))
        self.gc_removed.labels("manifest").inc(len(report.manifests))
        self.gc_removed.labels("link").inc(len(report.links))
        self.gc_removed.labels("upload").inc(len(report.uploads))
        self.gc_freed.inc(report.freed_bytes)
        self.gc_last.set(time.time())
        self.gc_seconds.set(report.seconds)

    def render(self) -> bytes:
        """Everything in the Prometheus text format."""
        return generate_latest(self.registry)
