"""Case services: domain verbs that change a case and write its timeline. They flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core.errors import DomainError
from core.lifecycle import CaseAction, CaseStatus, EventKind, next_status
from core.models import Case, CaseEvent, Region, Staff
from core.repositories import CaseEventRepository, CaseRepository
from core.taxonomy import Taxonomy

SYSTEM = "system"
DISSATISFIED_AT_OR_BELOW = 2


def staff_actor(staff: Staff) -> str:
    """How a staff member appears in the timeline."""
    return f"staff:{staff.staff_code}"


def person_actor(person_id: int) -> str:
    """How a resident or enterprise contact appears in the timeline."""
    return f"person:{person_id}"


class RoutingResult(Protocol):
    """What the router decided (see core.services.routing.RoutingDecision)."""

    grid: Region | None
    region: Region | None
    assignee: Staff | None
    reason: str


class Router(Protocol):
    """Picks the grid and the person on duty for an address or point."""

    def route(self, address: str | None, location: tuple[float, float] | None, at: datetime, *,
              category: str | None = None, home_grid_id: int | None = None) -> RoutingResult: ...


@dataclass(frozen=True)
class OpenCase:
    """Everything needed to file a case."""

    category: str
    description: str
    reporter_id: int | None = None
    kind: str = "report"
    address_text: str | None = None
    location: tuple[float, float] | None = None
    contact_phone: str | None = None
    media: Sequence[str] = field(default_factory=tuple)
    priority: str = "normal"
    enterprise_id: int | None = None
    home_grid_id: int | None = None  # the reporter's grid from a scanned QR code, used when nothing else matches


def open_case(session: Session, cmd: OpenCase, *, router: Router, taxonomy: Taxonomy, now: datetime,
              tz: tzinfo) -> Case:
    """File a case, route it to a grid and whoever is on duty, and record creation and assignment."""
    decision = router.route(cmd.address_text, cmd.location, now, category=cmd.category,
                            home_grid_id=cmd.home_grid_id)
    accept_due, resolve_due = taxonomy.deadlines(cmd.category, cmd.priority, now, tz)
    repo = CaseRepository(session)
    case = repo.add(Case(
        number=repo.next_number(now.astimezone(tz).strftime("%Y%m%d")), kind=cmd.kind,
        category=taxonomy.category(cmd.category).code, description=cmd.description,
        address_text=cmd.address_text, lat=cmd.location[0] if cmd.location else None,
        lon=cmd.location[1] if cmd.location else None, grid_id=decision.grid.id if decision.grid else None,
        region_id=decision.region.id if decision.region else None, reporter_id=cmd.reporter_id,
        enterprise_id=cmd.enterprise_id, contact_phone=cmd.contact_phone, media=list(cmd.media),
        priority=cmd.priority, status=str(CaseStatus.SUBMITTED), routing_note=decision.reason,
        accept_due_at=accept_due, resolve_due_at=resolve_due, escalation_level=0, supervised=False,
        created_at=now, updated_at=now,
    ))
    actor = person_actor(cmd.reporter_id) if cmd.reporter_id else SYSTEM
    _record(session, case, EventKind.CREATED, actor, now, None, CaseStatus.SUBMITTED, None, {})
    if decision.assignee is not None:
        assign_case(session, case, decision.assignee, actor=SYSTEM, now=now, note=decision.reason)
    return case


def assign_case(session: Session, case: Case, staff: Staff, *, actor: str, now: datetime,
                note: str | None = None) -> CaseEvent:
    """Give a submitted or reopened case to ``staff``."""
    event = _transition(session, case, CaseAction.ASSIGN, actor, now, note, {"to": staff.staff_code})
    case.assignee_id = staff.id
    return event


def accept_case(session: Session, case: Case, *, actor: str, now: datetime) -> CaseEvent:
    """The assignee takes the case on (接单)."""
    event = _transition(session, case, CaseAction.ACCEPT, actor, now, None, {})
    case.accepted_at = now
    return event


def transfer_case(session: Session, case: Case, to_staff: Staff, *, actor: str, now: datetime, reason: str,
                  region: Region | None = None) -> CaseEvent:
    """Hand an open case to someone else, with the reason (转派)."""
    if not reason.strip():
        raise DomainError("a transfer needs a reason")
    data = {"from": _assignee_code(session, case), "to": to_staff.staff_code}
    event = _transition(session, case, CaseAction.TRANSFER, actor, now, reason, data)
    case.assignee_id = to_staff.id
    case.accepted_at = None
    if region is not None:
        case.region_id = region.id
    return event


def escalate_case(session: Session, case: Case, region: Region, to_staff: Staff | None, *, actor: str,
                  now: datetime, note: str, new_accept_due: datetime | None = None) -> CaseEvent:
    """Move an overdue case up to the next level's desk (升级); the level's on-duty staff, if any, gets it."""
    data = {"from": _assignee_code(session, case), "to": to_staff.staff_code if to_staff else None,
            "region": region.code, "level": case.escalation_level + 1}
    event = _transition(session, case, CaseAction.ESCALATE, actor, now, note, data)
    case.escalation_level += 1
    case.region_id = region.id
    case.assignee_id = to_staff.id if to_staff else None
    case.accepted_at = None
    if new_accept_due is not None:
        case.accept_due_at = new_accept_due
    return event


def resolve_case(session: Session, case: Case, *, actor: str, now: datetime, note: str,
                 media: Sequence[str] = ()) -> CaseEvent:
    """Record that the problem is solved (办结), with the note and photos for the reporter."""
    if not note.strip():
        raise DomainError("resolving a case needs a note saying what was done")
    event = _transition(session, case, CaseAction.RESOLVE, actor, now, note, {"media": list(media)})
    case.resolved_at = now
    case.resolution_note = note
    return event


def reopen_case(session: Session, case: Case, *, actor: str, now: datetime, note: str | None = None,
                taxonomy: Taxonomy | None = None, tz: tzinfo = UTC) -> CaseEvent:
    """Reopen a resolved or closed case and give it back to its last assignee with fresh clocks."""
    event = _transition(session, case, CaseAction.REOPEN, actor, now, note, {})
    case.resolved_at = None
    case.closed_at = None
    if taxonomy is not None:
        case.accept_due_at, case.resolve_due_at = taxonomy.deadlines(case.category, case.priority, now, tz)
    previous = session.get(Staff, case.assignee_id) if case.assignee_id else None
    if previous is not None:
        assign_case(session, case, previous, actor=SYSTEM, now=now, note="reopened: back to the last handler")
    return event


def close_case(session: Session, case: Case, *, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    """Close a resolved case (after the rating, or when the reporter stays silent)."""
    event = _transition(session, case, CaseAction.CLOSE, actor, now, note, {})
    case.closed_at = now
    return event


def cancel_case(session: Session, case: Case, *, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    """Withdraw an open case (撤销)."""
    return _transition(session, case, CaseAction.CANCEL, actor, now, note, {})


def rate_case(session: Session, case: Case, rating: int, comment: str | None, *, actor: str, now: datetime,
              taxonomy: Taxonomy | None = None, tz: tzinfo = UTC) -> CaseEvent:
    """Store the reporter's 1–5 rating; a dissatisfied rating reopens the case, any other closes it."""
    if case.status != CaseStatus.RESOLVED:
        raise DomainError(f"case {case.number} can be rated only once it is resolved")
    if not 1 <= rating <= 5:
        raise DomainError("a rating is a whole number from 1 to 5")
    case.rating, case.rating_comment = rating, comment
    event = _record(session, case, EventKind.RATED, actor, now, None, None, comment, {"rating": rating})
    if rating <= DISSATISFIED_AT_OR_BELOW:
        reopen_case(session, case, actor=actor, now=now, note=comment or "不满意", taxonomy=taxonomy, tz=tz)
    else:
        close_case(session, case, actor=actor, now=now, note="rated")
    return event


def supervise_case(session: Session, case: Case, *, actor: str, now: datetime, note: str) -> CaseEvent:
    """Mark a case as supervised by a leader (督办)."""
    case.supervised = True
    return _record(session, case, EventKind.SUPERVISED, actor, now, None, None, note, {})


def remind_case(session: Session, case: Case, *, actor: str, now: datetime, note: str,
                data: dict[str, Any] | None = None) -> CaseEvent:
    """Record a reminder (催办) sent about a case."""
    return _record(session, case, EventKind.REMINDED, actor, now, None, None, note, data or {})


def comment_case(session: Session, case: Case, *, actor: str, now: datetime, note: str) -> CaseEvent:
    """Add a remark to the timeline."""
    return _record(session, case, EventKind.COMMENTED, actor, now, None, None, note, {})


def _transition(session: Session, case: Case, action: CaseAction, actor: str, now: datetime, note: str | None,
                data: dict[str, Any]) -> CaseEvent:
    """Move the case by the lifecycle table and write the matching event (IllegalTransition when refused)."""
    before = CaseStatus(case.status)
    after = next_status(case.number, before, action)
    case.status = str(after)
    return _record(session, case, EventKind(str(action)), actor, now, before, after, note, data)


def _record(session: Session, case: Case, kind: EventKind, actor: str, now: datetime,
            before: CaseStatus | None, after: CaseStatus | None, note: str | None,
            data: dict[str, Any]) -> CaseEvent:
    case.updated_at = now
    event = CaseEvent(case_id=case.id, kind=str(kind), actor=actor, from_status=str(before) if before else None,
                      to_status=str(after) if after else None, note=note, data=data, at=now)
    CaseEventRepository(session).add(event)
    session.flush()
    return event


def _assignee_code(session: Session, case: Case) -> str | None:
    staff = session.get(Staff, case.assignee_id) if case.assignee_id else None
    return staff.staff_code if staff else None
