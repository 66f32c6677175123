"""Who may see and do what: 一级一权限. Role and region decide; every denial is audited and refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from core.models import AuditRecord, Case, Region, Staff

ADMIN_ROLES = frozenset({"community_admin", "street_admin", "city_admin"})
WORKER_ROLES = frozenset({"grid_worker", "helper", "department"})


class Act(StrEnum):
    """Things someone may try to do with a case."""

    VIEW = "view"
    ACCEPT = "accept"
    RESOLVE = "resolve"
    TRANSFER = "transfer"
    SUPERVISE = "supervise"
    CANCEL = "cancel"
    RATE = "rate"
    STATS = "stats"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a chat account: always a Person, and a Staff record once bound."""

    person_id: int | None
    staff: Staff | None = None

    @property
    def label(self) -> str:
        """How the viewer appears in the audit log and timeline."""
        if self.staff is not None:
            return f"staff:{self.staff.staff_code}"
        return f"person:{self.person_id}"


def subtree_ids(session: Session, root_id: int) -> set[int]:
    """The region and every region below it."""
    children: dict[int | None, list[int]] = {}
    for rid, parent in session.execute(select(Region.id, Region.parent_id)):
        children.setdefault(parent, []).append(rid)
    found, stack = set(), [root_id]
    while stack:
        rid = stack.pop()
        if rid not in found:
            found.add(rid)
            stack.extend(children.get(rid, []))
    return found


def _in_area(session: Session, staff: Staff, case: Case) -> bool:
    area = subtree_ids(session, staff.region_id)
    return any(rid in area for rid in (case.grid_id, case.region_id) if rid is not None)


def allowed(session: Session, viewer: Viewer, act: Act, case: Case) -> bool:
    """True when the viewer may do ``act`` with ``case``."""
    staff = viewer.staff
    if staff is None:
        own = viewer.person_id is not None and case.reporter_id == viewer.person_id
        return own and act in (Act.VIEW, Act.CANCEL, Act.RATE)
    is_assignee = case.assignee_id == staff.id
    is_admin_over = staff.role in ADMIN_ROLES and _in_area(session, staff, case)
    if act is Act.VIEW:
        return is_assignee or is_admin_over or case.reporter_id == viewer.person_id
    if act in (Act.ACCEPT, Act.RESOLVE):
        return is_assignee
    if act in (Act.TRANSFER, Act.CANCEL):
        return is_assignee or is_admin_over
    if act in (Act.SUPERVISE, Act.STATS):
        return is_admin_over
    return act is Act.RATE and case.reporter_id == viewer.person_id


def require(session: Session, viewer: Viewer, act: Act, case: Case, now: datetime) -> None:
    """Raise PermissionDenied (after writing an audit record) unless the viewer may do ``act``."""
    if allowed(session, viewer, act, case):
        return
    audit(session, viewer.label, str(act), case.number, allowed=False, now=now,
          reason=f"{viewer.staff.role if viewer.staff else 'resident'} may not {act} this case")
    raise PermissionDenied(f"{viewer.label} may not {act} case {case.number}")


def visible_region_ids(session: Session, staff: Staff) -> set[int]:
    """Regions whose cases and statistics an admin may see (empty for workers: they see their own tasks)."""
    return subtree_ids(session, staff.region_id) if staff.role in ADMIN_ROLES else set()


def audit(session: Session, actor: str, action: str, target: str | None, *, allowed: bool, now: datetime,
          reason: str | None = None) -> AuditRecord:
    """Write one audit record."""
    record = AuditRecord(at=now, actor=actor, action=action, target=target, allowed=allowed, reason=reason)
    session.add(record)
    session.flush()
    return record


def filter_visible(session: Session, viewer: Viewer, cases: Iterable[Case]) -> list[Case]:
    """Keep the cases the viewer may see."""
    return [c for c in cases if allowed(session, viewer, Act.VIEW, c)]
