"""The one outbox worker of a process, built with the sender of every configured platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.outbox import OutboxWorker, Sender
from core.db import SessionFactory
from core.settings import Settings
from webhooks.metrics import Metrics


def build_outbox(settings: Settings, session_factory: SessionFactory, metrics: Metrics,
                 senders: Mapping[str, Sender], **worker_options: Any) -> OutboxWorker | None:
    """A worker delivering the rows of every platform in ``senders``; None when no platform can send."""
    if not senders:
        return None
    options = {"lease_seconds": settings.outbox_lease_seconds} | worker_options
    return OutboxWorker(session_factory, senders, template_ids=settings.wechat_template_ids,
                        on_backlog=metrics.outbox_backlog.set,
                        on_failure=lambda platform: metrics.outbox_failures.labels(platform).inc(),
                        **options)
