"""Prometheus metrics of one service instance (its own registry, so two apps in one process never collide)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _PoolCollector(Collector):
    """The allocator pool's own statistics, read at scrape time."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._pool.get_stats()
        for name, key, doc in (
            ("tablemend_pool_size", "pool_size", "Connections open in the allocator pool."),
            ("tablemend_pool_available", "pool_available", "Idle connections in the allocator pool."),
            ("tablemend_pool_max", "pool_max", "Maximum size of the allocator pool."),
            ("tablemend_pool_requests_waiting", "requests_waiting", "Callers waiting for a connection."),
        ):
            yield GaugeMetricFamily(name, doc, value=float(stats.get(key, 0)))


class Metrics:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.registry = CollectorRegistry()
        self.rpc_seconds = Histogram(
            "tablemend_rpc_seconds", "Latency of RPC calls through the service, by function.", ["function"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.errors = Counter("tablemend_errors", "Error responses, by SQLSTATE code and HTTP status.",
                              ["code", "status"], registry=self.registry)
        self.conflicts = Counter("tablemend_conflicts", "Allocator conflicts (409), by function and code.",
                                 ["function", "code"], registry=self.registry)
        self.findings = Counter("tablemend_findings_reported", "Doctor findings returned by the service, by code.",
                                ["code"], registry=self.registry)
        self.repairs = Counter("tablemend_repairs", "Doctor repairs applied through the service.",
                               registry=self.registry)
        self.undos = Counter("tablemend_undos", "Doctor repairs undone through the service.", registry=self.registry)
        self.registry.register(_PoolCollector(pool))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
