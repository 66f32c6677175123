"""Statistics for staff and leaders: counts per region, the three rates, case lists and timelines (queries only).

A case belongs to its grid (``grid_id``; ``region_id`` when it has no grid), so escalating it to the community or
street desk does not move it out of its grid's figures. Every region row counts the cases of its whole subtree.
Periods are half-open: ``start <= t < end``, aware datetimes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from core.errors import CaseNotFound, NotFound
from core.lifecycle import OPEN_STATUSES, CaseStatus, EventKind
from core.models import Case, CaseEvent, Region, Staff

LEVELS = ("city", "street", "community", "grid")
WAITING = frozenset({CaseStatus.SUBMITTED, CaseStatus.ASSIGNED, CaseStatus.REOPENED})
SATISFIED_AT_OR_ABOVE = 4
_HOME = func.coalesce(Case.grid_id, Case.region_id)  # the region a case is counted under


@dataclass(frozen=True, slots=True)
class GridStats:
    """Counts for one region of an area (a grid, or a community/street/city rolled up over its subtree)."""

    region_id: int
    code: str
    name: str
    level: str
    new: int = 0
    accepted: int = 0
    resolved: int = 0
    overdue: int = 0
    supervised: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {"code": self.code, "name": self.name, "level": self.level, "new": self.new,
                "accepted": self.accepted, "resolved": self.resolved, "overdue": self.overdue,
                "supervised": self.supervised}


@dataclass(frozen=True, slots=True)
class RateRow:
    """The three rates of one region, with the counts behind them; a rate is None when its denominator is 0."""

    region_id: int
    code: str
    name: str
    level: str
    needed_accept: int
    accepted_on_time: int
    created: int
    resolved: int
    rated: int
    satisfied: int

    @property
    def response(self) -> float | None:
        """响应率: accepted on time ÷ needed accepting."""
        return _ratio(self.accepted_on_time, self.needed_accept)

    @property
    def resolution(self) -> float | None:
        """解决率: resolved or closed ÷ created (cancelled left out)."""
        return _ratio(self.resolved, self.created)

    @property
    def satisfaction(self) -> float | None:
        """满意率: ratings of 4 or 5 ÷ ratings given."""
        return _ratio(self.satisfied, self.rated)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (rates rounded to 4 places, None when undefined)."""
        return {"code": self.code, "name": self.name, "level": self.level,
                "response": _round(self.response), "resolution": _round(self.resolution),
                "satisfaction": _round(self.satisfaction), "needed_accept": self.needed_accept,
                "accepted_on_time": self.accepted_on_time, "created": self.created, "resolved": self.resolved,
                "rated": self.rated, "satisfied": self.satisfied}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def format_rate(value: float | None) -> str:
    """A rate as a percentage with one decimal, or '—' when undefined."""
    return "—" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True, slots=True)
class _Area:
    """The regions of an area in tree order, and for every region its ancestors inside the area (itself included)."""

    regions: list[Region]
    up: dict[int, list[int]]


def _area(session: Session, region_id: int) -> _Area:
    """Load the subtree under ``region_id`` (depth-first, children by code)."""
    regions = {r.id: r for r in session.scalars(select(Region))}
    if region_id not in regions:
        raise NotFound(f"no region with id {region_id}")
    children: dict[int | None, list[Region]] = defaultdict(list)
    for region in regions.values():
        children[region.parent_id].append(region)
    ordered: list[Region] = []
    up: dict[int, list[int]] = {}
    stack: list[tuple[Region, list[int]]] = [(regions[region_id], [])]
    while stack:
        region, above = stack.pop()
        chain = [*above, region.id]
        ordered.append(region)
        up[region.id] = chain
        stack.extend((c, chain) for c in sorted(children[region.id], key=lambda r: r.code, reverse=True))
    return _Area(ordered, up)


def overdue_clause(as_of: datetime) -> ColumnElement[bool]:
    """Open cases past a deadline at ``as_of``: not yet accepted past the accept deadline, or past the resolve one."""
    return and_(Case.status.in_([str(s) for s in OPEN_STATUSES]), or_(
        and_(Case.status.in_([str(s) for s in WAITING]), Case.accept_due_at <= as_of),
        Case.resolve_due_at <= as_of,
    ))


def _roll_up(area: _Area, counts: dict[int, int]) -> dict[int, int]:
    """Add each home region's count to itself and every ancestor inside the area."""
    total: dict[int, int] = defaultdict(int)
    for home, n in counts.items():
        for rid in area.up.get(home, ()):
            total[rid] += n
    return total


def _count_by_home(session: Session, area: _Area, *where: ColumnElement[bool]) -> dict[int, int]:
    query = select(_HOME, func.count(Case.id)).where(_HOME.in_(list(area.up)), *where).group_by(_HOME)
    return {int(home): int(n) for home, n in session.execute(query)}


def _events_by_home(session: Session, area: _Area, kind: EventKind, start: datetime,
                    end: datetime) -> dict[int, int]:
    query = (select(_HOME, func.count(func.distinct(Case.id))).join(CaseEvent, CaseEvent.case_id == Case.id)
             .where(_HOME.in_(list(area.up)), CaseEvent.kind == str(kind), CaseEvent.at >= start,
                    CaseEvent.at < end).group_by(_HOME))
    return {int(home): int(n) for home, n in session.execute(query)}


def area_stats(session: Session, region_id: int, start: datetime, end: datetime) -> list[GridStats]:
    """Counts for every region of the area under ``region_id`` (itself first, then depth-first).

    new: cases created in the period. accepted / resolved / supervised: cases with at least one 接单 / 办结 / 督办
    event in the period (from the timeline, so a later transfer or reopening does not rewrite the past).
    overdue: cases open now that were past a deadline at ``end`` (see ``overdue_clause``).
    """
    area = _area(session, region_id)
    columns = {
        "new": _count_by_home(session, area, Case.created_at >= start, Case.created_at < end),
        "accepted": _events_by_home(session, area, EventKind.ACCEPTED, start, end),
        "resolved": _events_by_home(session, area, EventKind.RESOLVED, start, end),
        "overdue": _count_by_home(session, area, overdue_clause(end)),
        "supervised": _events_by_home(session, area, EventKind.SUPERVISED, start, end),
    }
    rolled = {name: _roll_up(area, counts) for name, counts in columns.items()}
    return [GridStats(r.id, r.code, r.name, r.level, **{name: rolled[name][r.id] for name in rolled})
            for r in area.regions]


def _first_events(session: Session, case_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """For each case, when it was first accepted, escalated and cancelled."""
    first: dict[int, dict[str, datetime]] = defaultdict(dict)
    if not case_ids:
        return first
    kinds = [str(EventKind.ACCEPTED), str(EventKind.ESCALATED), str(EventKind.CANCELLED)]
    query = (select(CaseEvent.case_id, CaseEvent.kind, func.min(CaseEvent.at))
             .where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind.in_(kinds))
             .group_by(CaseEvent.case_id, CaseEvent.kind))
    for case_id, kind, at in session.execute(query):
        first[case_id][kind] = _aware(at)
    return first


def _aware(value: datetime) -> datetime:
    """The database stores UTC; an aggregate may come back naive on SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _response(case: Case, first: dict[str, datetime], as_of: datetime) -> tuple[int, int]:
    """(needed accepting, accepted on time) for one case; see ``rates``."""
    accepted, escalated, cancelled = (first.get(str(k)) for k in
                                      (EventKind.ACCEPTED, EventKind.ESCALATED, EventKind.CANCELLED))
    due = case.accept_due_at
    if due is None or (accepted is None and (cancelled is not None or due > as_of)):
        return 0, 0
    on_time = accepted is not None and accepted <= due and (escalated is None or escalated > accepted)
    return 1, int(on_time)


def rates(session: Session, region_id: int, start: datetime, end: datetime) -> list[RateRow]:
    """The three rates for every region of the area, over cases created (or rated) in the period.

    响应率 response = cases created in the period whose first 接单 came no later than their accept deadline and
    before any escalation ÷ cases created in the period that needed accepting (had an accept deadline; left out:
    cases cancelled before anyone accepted them, and cases still waiting whose deadline is after ``end``).
    解决率 resolution = cases created in the period that are resolved or closed, resolved before ``end`` ÷ cases
    created in the period, cancelled ones left out. 满意率 satisfaction = ratings of 4 or 5 given in the period ÷
    ratings given in the period (every rating counts, also one that reopened the case).
    """
    area = _area(session, region_id)
    created = session.scalars(select(Case).where(_HOME.in_(list(area.up)), Case.created_at >= start,
                                                 Case.created_at < end)).all()
    first = _first_events(session, [c.id for c in created])
    sums: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for case in created:
        home = case.grid_id or case.region_id
        assert home is not None
        needed, on_time = _response(case, first[case.id], end)
        sums["needed_accept"][home] += needed
        sums["accepted_on_time"][home] += on_time
        if case.status != CaseStatus.CANCELLED:
            sums["created"][home] += 1
            done = case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
            sums["resolved"][home] += int(done and case.resolved_at is not None and case.resolved_at < end)
    ratings = session.execute(
        select(_HOME, CaseEvent.data).join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(_HOME.in_(list(area.up)), CaseEvent.kind == str(EventKind.RATED), CaseEvent.at >= start,
               CaseEvent.at < end))
    for home, data in ratings:
        sums["rated"][home] += 1
        sums["satisfied"][home] += int(int(data.get("rating", 0)) >= SATISFIED_AT_OR_ABOVE)
    fields = ("needed_accept", "accepted_on_time", "created", "resolved", "rated", "satisfied")
    rolled = {name: _roll_up(area, sums[name]) for name in fields}
    return [RateRow(r.id, r.code, r.name, r.level, **{name: rolled[name][r.id] for name in fields})
            for r in area.regions]


def _region_filter(region_ids: Iterable[int]) -> ColumnElement[bool]:
    ids = list(region_ids)
    return or_(Case.grid_id.in_(ids), Case.region_id.in_(ids))


def list_cases(session: Session, *, status: str | Collection[str] | None = None, category: str | None = None,
               grid_code: str | None = None, assignee_code: str | None = None, since: datetime | None = None,
               until: datetime | None = None, region_ids: Iterable[int] | None = None,
               overdue_at: datetime | None = None, limit: int = 100) -> list[Case]:
    """Cases matching every given filter, newest first; ``since <= created_at < until``.

    ``region_ids`` limits to what a viewer may see (grid or current region inside); ``overdue_at`` keeps the
    cases overdue at that moment. An unknown grid or staff code raises NotFound.
    """
    query = select(Case)
    if status is not None:
        query = query.where(Case.status.in_([status] if isinstance(status, str) else list(status)))
    if category is not None:
        query = query.where(Case.category == category)
    if grid_code is not None:
        grid = session.scalars(select(Region).where(Region.code == grid_code)).first()
        if grid is None:
            raise NotFound(f"no region with code {grid_code!r}")
        query = query.where(_HOME.in_(list(_area(session, grid.id).up)))
    if assignee_code is not None:
        staff = session.scalars(select(Staff).where(Staff.staff_code == assignee_code)).first()
        if staff is None:
            raise NotFound(f"no staff member with staff_id {assignee_code!r}")
        query = query.where(Case.assignee_id == staff.id)
    if since is not None:
        query = query.where(Case.created_at >= since)
    if until is not None:
        query = query.where(Case.created_at < until)
    if region_ids is not None:
        query = query.where(_region_filter(region_ids))
    if overdue_at is not None:
        query = query.where(overdue_clause(overdue_at))
    return list(session.scalars(query.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)))


def overdue_cases(session: Session, region_id: int, as_of: datetime, limit: int = 10) -> tuple[list[Case], int]:
    """Open cases of the area overdue at ``as_of``, longest overdue first (up to ``limit``), and how many in all."""
    area = _area(session, region_id)
    where = (_HOME.in_(list(area.up)), overdue_clause(as_of))
    total = int(session.scalar(select(func.count(Case.id)).where(*where)) or 0)
    due = sql_case((Case.status == str(CaseStatus.ACCEPTED), Case.resolve_due_at), else_=Case.accept_due_at)
    shown = session.scalars(select(Case).where(*where).order_by(due, Case.id).limit(limit)).all()
    return list(shown), total


def timeline(session: Session, case_number: str) -> tuple[Case, list[CaseEvent]]:
    """A case and every event of its timeline in order; CaseNotFound when there is no such number."""
    case = session.scalars(select(Case).where(Case.number == case_number.strip())).first()
    if case is None:
        raise CaseNotFound(f"no case with number {case_number.strip()!r}")
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.at, CaseEvent.id)).all()
    return case, list(events)
