"""Prometheus metrics, one registry per app (no global registry: tests build many apps)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter("gridbot_messages_total", "Inbound messages by platform, type and outcome",
                                ["platform", "kind", "outcome"], registry=self.registry)
        self.turn_seconds = Histogram("gridbot_turn_seconds", "Time to handle one inbound message",
                                      ["platform"], registry=self.registry,
                                      buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 5))
        self.dedupe_hits = Counter("gridbot_dedupe_hits_total", "Platform retries answered without a second turn",
                                   ["platform"], registry=self.registry)
        self.outbox_backlog = Gauge("gridbot_outbox_backlog", "Outbox messages waiting to be delivered",
                                    registry=self.registry)
        self.outbox_failures = Counter("gridbot_outbox_failures_total", "Failed outbox delivery attempts",
                                       ["platform"], registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
