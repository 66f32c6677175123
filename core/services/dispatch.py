"""Who hears of a change to a case: the handler of each assignment, the reporter of each step, the superior
of each 督办. Notices carry the event id in their key, so announcing the same event twice sends once."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Case, CaseEvent, Staff
from core.notify import Notice, NoticeKind, Notifier
from core.services.cases import Router

REPORTER_KINDS = {
    "accepted": NoticeKind.CASE_ACCEPTED,
    "transferred": NoticeKind.CASE_TRANSFERRED,
    "resolved": NoticeKind.CASE_RESOLVED,
}


def announce(session: Session, notifier: Notifier, case: Case, events: Iterable[CaseEvent], *,
             superior_of: Router | None = None) -> None:
    """Queue the notices these events call for (in the caller's transaction)."""
    for event in events:
        _to_handler(session, notifier, case, event)
        if event.kind in REPORTER_KINDS and case.reporter_id is not None:
            notifier.to_person(session, case.reporter_id, Notice(
                REPORTER_KINDS[event.kind], f"event:{event.id}:reporter", case.id,
                {"note": event.note or "", "media": (event.data or {}).get("media", [])}))
        if event.kind == "supervised" and superior_of is not None:
            _to_superior(session, notifier, case, event, superior_of)


def announce_since(session: Session, notifier: Notifier, case: Case, after_event_id: int = 0, *,
                   superior_of: Router | None = None) -> None:
    """Announce the case's events after ``after_event_id`` (all of a freshly opened case's by default)."""
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.id > after_event_id)
                             .order_by(CaseEvent.id)).all()
    announce(session, notifier, case, events, superior_of=superior_of)


def last_event_id(session: Session, case: Case) -> int:
    """The id of the case's newest event (announce what comes after it)."""
    return session.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id)) or 0


def _to_handler(session: Session, notifier: Notifier, case: Case, event: CaseEvent) -> None:
    """A new assignee hears of the case; the current one hears of a 督办."""
    kinds = {"assigned": NoticeKind.NEW_CASE, "transferred": NoticeKind.TRANSFERRED_TO_YOU,
             "supervised": NoticeKind.SUPERVISED}
    if event.kind not in kinds or case.assignee_id is None:
        return
    staff = session.get(Staff, case.assignee_id)
    if staff is None:
        return
    data = {"note": event.note or "", "reopened": (event.note or "").startswith("reopened")}
    notifier.to_staff(session, staff, Notice(kinds[event.kind], f"event:{event.id}:handler", case.id, data))


def _to_superior(session: Session, notifier: Notifier, case: Case, event: CaseEvent, router: Router) -> None:
    """The assignee's superior hears of a 督办 too: the first on-duty staff up the ladder who is neither the
    assignee nor the leader who supervised."""
    region = case.region_id or case.grid_id
    if region is None:
        return
    for level in router.ladder(region)[1:]:  # type: ignore[attr-defined]
        superior = router.duty_at(level, event.at)  # type: ignore[attr-defined]
        if superior is not None and superior.id != case.assignee_id and f"staff:{superior.staff_code}" != event.actor:
            notifier.to_staff(session, superior, Notice(NoticeKind.SUPERVISED, f"event:{event.id}:superior",
                                                        case.id, {"note": event.note or ""}))
            return
