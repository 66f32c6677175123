"""The minute clock: one APScheduler job per process; the store lock inside ``run_tick`` elects the leader."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.notifier import OutboxNotifier
from core.db import SessionFactory
from core.jobs import Clockwork, run_tick
from core.services.routing import RouterCache
from core.settings import Settings
from core.store import StateStore
from core.taxonomy import load_taxonomy

logger = logging.getLogger(__name__)


def build_scheduler(settings: Settings, factory: SessionFactory, store: StateStore) -> BackgroundScheduler:
    """A scheduler (not started) that runs reminders, escalations, hand-overs and digests every minute."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    ctx = Clockwork(taxonomy=taxonomy, tz=settings.tz, notifier=OutboxNotifier(settings.tz, taxonomy),
                    routers=RouterCache(tz=settings.tz))

    def minute() -> None:
        report = run_tick(factory, store, ctx, datetime.now(UTC))
        if report is not None and (report.escalated or report.reminded or report.overdue or report.handed_over):
            logger.info("tick: %d reminded, %d escalated, %d overdue, %d handed over", len(report.reminded),
                        len(report.escalated), len(report.overdue), len(report.handed_over))

    scheduler = BackgroundScheduler(timezone=settings.tz)
    # coalesce + one instance: a process that slept through several minutes runs the tick once, not many times
    scheduler.add_job(minute, "cron", second=5, id="minute", coalesce=True, max_instances=1,
                      misfire_grace_time=50)
    return scheduler
