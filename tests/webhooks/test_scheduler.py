"""The minute job the lifespan schedules runs the real clockwork against the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.db import make_session_factory, unit_of_work
from core.models import Case
from core.services import cases
from core.services.routing import GridRouter
from core.settings import Settings
from core.store import StateStore
from core.taxonomy import load_taxonomy
from tests.factories import make_org, make_place, make_resident
from webhooks.scheduler import build_scheduler


def test_the_minute_job_escalates_an_overdue_case(settings: Settings, fresh_engine: Engine,
                                                  store: StateStore) -> None:
    factory = make_session_factory(fresh_engine)
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    with unit_of_work(factory) as session:
        org = make_org(session)
        make_place(session, "幸福小区", org.grids[0])
        reporter = make_resident(session)
        number = cases.open_case(session, cases.OpenCase(category="municipal", description="井盖丢了",
                                                         reporter_id=reporter.id, address_text="幸福小区"),
                                 router=GridRouter.load(session), taxonomy=load_taxonomy(),
                                 now=three_hours_ago, tz=ZoneInfo("Asia/Shanghai")).number
    scheduler = build_scheduler(settings, factory, store)
    job = scheduler.get_job("minute")
    assert job is not None and str(job.trigger).startswith("cron")
    job.func()
    with factory() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.escalation_level == 1 and case.assignee_id != org.workers[0].id
