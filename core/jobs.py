"""The clockwork: reminders before deadlines, escalation up the ladder at them, hand-over at shift end.

Plain functions the scheduler calls each minute (and tests call directly with a fixed clock). Every step is
safe to run twice: it acts only on the state in the database and records what it did in the timeline.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.db import SessionFactory, unit_of_work
from core.digest import run_due
from core.lifecycle import CaseStatus
from core.models import Case, CaseEvent, Staff
from core.notify import Notice, NoticeKind, Notifier
from core.services import cases as svc
from core.services.routing import GridRouter, RouterCache
from core.store import StateStore, held_lock
from core.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

WAITING = (CaseStatus.SUBMITTED, CaseStatus.ASSIGNED, CaseStatus.REOPENED)
HORIZON = timedelta(days=3)
TICK_LOCK = "jobs:tick"


@dataclass
class Clockwork:
    """What the jobs need: the taxonomy's clocks, the time zone, routing and a way to tell people."""

    taxonomy: Taxonomy
    tz: ZoneInfo
    notifier: Notifier
    routers: RouterCache
    reminder_fraction: float = 0.25
    min_lead: timedelta = timedelta(minutes=5)


@dataclass
class TickReport:
    """What one tick did, for logs and tests."""

    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    handed_over: list[str] = field(default_factory=list)


def run_tick(factory: SessionFactory, store: StateStore, ctx: Clockwork, now: datetime) -> TickReport | None:
    """Run one tick if this process holds the tick lock (one leader among many); None when another ran it.

    The digests due in this minute go out in the same turn of the lock; their keys make a second run harmless.
    """
    with held_lock(store, TICK_LOCK, ttl=55) as leader:
        if not leader:
            return None
        with unit_of_work(factory) as session:
            report = tick(session, ctx, now)
        run_due(factory, ctx.notifier, now, ctx.tz)
        return report


def tick(session: Session, ctx: Clockwork, now: datetime) -> TickReport:
    """Hand over, remind, escalate and flag overdue cases as of ``now``."""
    report = TickReport()
    router = ctx.routers.router(session)
    due = _due_cases(session, now)
    sent = _sent_reminders(session, [c.id for c in due])
    for case in due:
        accept_overdue = case.status in WAITING and case.accept_due_at is not None and case.accept_due_at <= now
        resolve_overdue = (case.status == CaseStatus.ACCEPTED and case.resolve_due_at is not None
                           and case.resolve_due_at <= now)
        if case.status == CaseStatus.ASSIGNED and _hand_over(session, router, ctx, case, now):
            report.handed_over.append(case.number)
        elif accept_overdue:
            if _escalate(session, ctx, router, case, now, sent):
                report.escalated.append(case.number)
        elif resolve_overdue:
            if _flag_overdue(session, ctx, router, case, now, sent):
                report.overdue.append(case.number)
        elif _remind(session, ctx, case, now, sent):
            report.reminded.append(case.number)
    return report


def _due_cases(session: Session, now: datetime) -> Sequence[Case]:
    """Open cases with a deadline inside the horizon, locked so a concurrent tick skips them."""
    soon = now + HORIZON
    query = select(Case).where(or_(
        and_(Case.status.in_([str(s) for s in WAITING]), Case.accept_due_at <= soon),
        and_(Case.status == str(CaseStatus.ACCEPTED), Case.resolve_due_at <= soon),
    )).order_by(Case.id).with_for_update(skip_locked=True)
    return session.scalars(query).all()


def _sent_reminders(session: Session, case_ids: list[int]) -> dict[int, set[str]]:
    """For each case, the reminder marks already in its timeline (``clock@due``)."""
    marks: dict[int, set[str]] = defaultdict(set)
    if case_ids:
        rows = session.execute(select(CaseEvent.case_id, CaseEvent.data).where(
            CaseEvent.case_id.in_(case_ids), CaseEvent.kind == "reminded"))
        for case_id, data in rows:
            marks[case_id].add(f"{data.get('clock')}@{data.get('due')}")
    return marks


def _mark(clock: str, due: datetime | None) -> str:
    return f"{clock}@{due.isoformat() if due else None}"


def _remind(session: Session, ctx: Clockwork, case: Case, now: datetime, sent: dict[int, set[str]]) -> bool:
    """Remind the assignee once when a deadline is near."""
    if case.assignee_id is None:
        return False
    accepting = case.status != CaseStatus.ACCEPTED
    clock, due = ("accept", case.accept_due_at) if accepting else ("resolve", case.resolve_due_at)
    if due is None or _mark(clock, due) in sent[case.id]:
        return False
    lead = max(_window(ctx, case, accepting) * ctx.reminder_fraction, ctx.min_lead)
    if now < due - lead:
        return False
    staff = session.get(Staff, case.assignee_id)
    assert staff is not None
    kind = NoticeKind.ACCEPT_DUE_SOON if clock == "accept" else NoticeKind.RESOLVE_DUE_SOON
    _record(session, case, now, clock, due, {"to": staff.staff_code})
    ctx.notifier.to_staff(session, staff, Notice(kind, f"{kind}:{case.id}:{due.isoformat()}", case.id,
                                                 {"due": due.isoformat()}))
    sent[case.id].add(_mark(clock, due))
    return True


def _window(ctx: Clockwork, case: Case, accepting: bool) -> timedelta:
    """The length of the clock that is running: the category's accept window, or accept → resolve deadline."""
    if accepting:
        category = ctx.taxonomy.category(case.category)
        return timedelta(hours=category.accept_hours * ctx.taxonomy.priority_factor.get(case.priority, 1.0))
    assert case.resolve_due_at is not None
    return case.resolve_due_at - min(case.accepted_at or case.created_at, case.resolve_due_at)


def _escalate(session: Session, ctx: Clockwork, router: GridRouter, case: Case, now: datetime,
              sent: dict[int, set[str]]) -> bool:
    """Move a case whose accept deadline passed to the next level with someone on duty; tell their superior."""
    current = case.region_id or case.grid_id or router.index.city_id
    assert current is not None
    level, staff = router.escalation_target(current, now)
    if level is None:
        return _tell_top(session, ctx, router, case, current, now, sent)
    window = _window(ctx, case, accepting=True)
    svc.escalate_case(session, case, level, staff, actor=svc.SYSTEM, now=now, new_accept_due=now + window,
                      note=f"accept deadline passed; escalated to {level.level} {level.code}")
    key = f"esc:{case.id}:{case.escalation_level}"
    if staff is not None:
        ctx.notifier.to_staff(session, staff, Notice(NoticeKind.ESCALATED_TO_YOU, key, case.id,
                                                     {"level": level.name}))
    _, superior = router.escalation_target(level, now)
    if superior is not None:
        ctx.notifier.to_staff(session, superior, Notice(NoticeKind.ESCALATION_FYI, f"{key}:fyi", case.id,
                                                        {"level": level.name}))
    return True


def _tell_top(session: Session, ctx: Clockwork, router: GridRouter, case: Case, current: int, now: datetime,
              sent: dict[int, set[str]]) -> bool:
    """At the city desk there is nobody above: tell the desk once per deadline that the case is overdue."""
    if _mark("top", case.accept_due_at) in sent[case.id]:
        return False
    desk = router.duty_at(current, now)
    _record(session, case, now, "top", case.accept_due_at, {"to": desk.staff_code if desk else None})
    if desk is not None:
        ctx.notifier.to_staff(session, desk, Notice(NoticeKind.OVERDUE_AT_TOP, f"top:{case.id}:{case.accept_due_at}",
                                                    case.id))
    sent[case.id].add(_mark("top", case.accept_due_at))
    return True


def _flag_overdue(session: Session, ctx: Clockwork, router: GridRouter, case: Case, now: datetime,
                  sent: dict[int, set[str]]) -> bool:
    """An accepted case past its resolve deadline: the next level's on-duty staff are told, once per deadline."""
    if _mark("resolve_overdue", case.resolve_due_at) in sent[case.id]:
        return False
    current = case.region_id or case.grid_id or router.index.city_id
    assert current is not None
    level, superior = router.escalation_target(current, now)
    if superior is None:
        superior, level = router.duty_at(current, now), None
    _record(session, case, now, "resolve_overdue", case.resolve_due_at,
            {"to": superior.staff_code if superior else None})
    if superior is not None:
        ctx.notifier.to_staff(session, superior, Notice(
            NoticeKind.RESOLVE_OVERDUE, f"rov:{case.id}:{case.resolve_due_at}", case.id,
            {"level": level.name if level else None}))
    sent[case.id].add(_mark("resolve_overdue", case.resolve_due_at))
    return True


def _hand_over(session: Session, router: GridRouter, ctx: Clockwork, case: Case, now: datetime) -> bool:
    """An unaccepted case whose assignee's shift ended goes to whoever is on duty there now."""
    region = case.region_id or case.grid_id
    if region is None or case.assignee_id is None or (case.accept_due_at and case.accept_due_at <= now):
        return False
    on_duty = router.duty_at(region, now)
    if on_duty is None or on_duty.id == case.assignee_id:
        return False
    if any(s.id == case.assignee_id for s in router.on_duty(region, now)):
        return False
    svc.transfer_case(session, case, on_duty, actor=svc.SYSTEM, now=now, reason="shift ended: handed to duty")
    ctx.notifier.to_staff(session, on_duty, Notice(NoticeKind.TRANSFERRED_TO_YOU, f"handover:{case.id}:{now}",
                                                   case.id, {"reason": "shift_end"}))
    return True


def _record(session: Session, case: Case, now: datetime, clock: str, due: datetime | None,
            extra: dict[str, Any]) -> None:
    svc.remind_case(session, case, actor=svc.SYSTEM, now=now, note=f"{clock} clock",
                    data={"clock": clock, "due": due.isoformat() if due else None, **extra})
