"""Route a report to a grid and to whoever is on duty there, falling back grid → community → street → city."""

from __future__ import annotations

import logging
import time as clock
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import DutyShift, GridBoundary, Place, Region, Staff
from core.roster import parse_weekdays, shift_started_at

logger = logging.getLogger(__name__)

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
LEVEL_DEPTH: dict[str, int] = {"city": 0, "street": 1, "community": 2, "grid": 3}


def normalise_address(text: str) -> str:
    """Full-width to half-width, lower case, no whitespace: the form places and addresses are compared in."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if not ch.isspace())


class MatchMethod(StrEnum):
    """How an address or point was placed."""

    BOUNDARY = "boundary"
    GAZETTEER = "gazetteer"
    HOME = "home"  # the grid of the QR code the user scanned


@dataclass(frozen=True, slots=True)
class GridMatch:
    """Where a report landed (usually a grid, a community for community-wide places), how, and how sure."""

    region: Region
    method: MatchMethod
    confidence: float
    place: str | None = None  # the gazetteer place's name
    term: str | None = None  # the name or alias found in the address

    @property
    def via(self) -> str:
        """'gazetteer: 幸福小区', 'boundary' or 'home'."""
        return f"gazetteer: {self.place}" if self.method is MatchMethod.GAZETTEER else str(self.method)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The grid a report belongs to, the region whose duty took it, the assignee, and why."""

    grid: Region | None
    region: Region | None
    assignee: Staff | None
    reason: str
    trace: tuple[str, ...]
    match: GridMatch | None


@dataclass(frozen=True)
class RoutingPolicy:
    """Who may take a case at each level and which roles a category tries first; data a deployer can change."""

    level_roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"grid": ("grid_worker",)})
    category_roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"enterprise": ("helper",)})
    preferred_levels: tuple[str, ...] = ("grid", "community")


@dataclass(frozen=True, slots=True)
class _Node:
    id: int
    code: str
    level: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class _Entry:
    place: str
    region_id: int
    is_alias: bool


@dataclass(frozen=True, slots=True)
class _Shift:
    region_id: int
    staff_id: int
    staff_code: str
    role: str
    weekdays: frozenset[int]
    start: time
    end: time
    valid_from: date | None
    valid_to: date | None


@dataclass(frozen=True, slots=True)
class _Area:
    region_id: int
    geometry: BaseGeometry
    prepared: PreparedGeometry
    area: float


@dataclass(frozen=True, slots=True)
class _Candidate:
    region_id: int
    place: str
    term: str
    is_alias: bool
    ambiguous: bool


class RoutingIndex:
    """A session-free snapshot of regions, gazetteer, boundaries and duty shifts; cache it until the org changes."""

    def __init__(self, nodes: list[_Node], entries: dict[str, list[_Entry]], areas: list[_Area],
                 shifts: list[_Shift], names: list[str]) -> None:
        self.nodes = {n.id: n for n in nodes}
        self.entries = entries
        self.term_lengths = sorted({len(t) for t in entries}, reverse=True)
        self.areas = areas
        self.tree = shapely.STRtree([a.geometry for a in areas])
        self.shifts: dict[int, list[_Shift]] = {}
        for s in shifts:
            self.shifts.setdefault(s.region_id, []).append(s)
        cities = sorted((n for n in nodes if n.level == "city"), key=lambda n: n.code)
        self.city_id = cities[0].id if cities else None
        self.names = sorted(set(names))

    @classmethod
    def load(cls, session: Session) -> RoutingIndex:
        """Read regions, places, boundaries and active staff's shifts."""
        nodes = [_Node(r.id, r.code, r.level, r.parent_id) for r in session.scalars(select(Region))]
        entries: dict[str, list[_Entry]] = {}
        names: list[str] = []
        for p in session.scalars(select(Place).order_by(Place.id)):
            for term, is_alias in [(p.name, False), *((a, True) for a in p.aliases or [])]:
                if key := normalise_address(term):
                    names.append(term.strip())
                    entries.setdefault(key, []).append(_Entry(p.name, p.region_id, is_alias))
        areas = [a for b in session.scalars(select(GridBoundary)) if (a := _area(b.region_id, b.geometry))]
        rows = session.execute(select(DutyShift, Staff).join(Staff, Staff.id == DutyShift.staff_id)
                               .where(Staff.active.is_(True)))
        shifts = [s for shift, staff in rows if (s := _shift(shift, staff))]
        return cls(nodes, entries, areas, shifts, names)

    def ladder_ids(self, region_id: int) -> list[int]:
        """The region and its ancestors, nearest first (a cycle in bad data stops the walk)."""
        ids: list[int] = []
        current: int | None = region_id
        while current is not None and current in self.nodes and current not in ids:
            ids.append(current)
            current = self.nodes[current].parent_id
        return ids

    def common_ancestor(self, region_ids: Sequence[int]) -> int | None:
        """The deepest region that contains all the given ones."""
        shared = set(self.ladder_ids(region_ids[0]))
        for rid in region_ids[1:]:
            shared &= set(self.ladder_ids(rid))
        return next((rid for rid in self.ladder_ids(region_ids[0]) if rid in shared), None)

    def locate(self, lat: float, lon: float) -> int | None:
        """The most specific region whose boundary covers the point (then the smallest, then the lowest code)."""
        point = Point(lon, lat)
        hits: list[_Area] = [self.areas[i] for i in self.tree.query(point).tolist() if self.areas[i].prepared.covers(point)]
        if not hits:
            return None
        return min(hits, key=lambda a: (-self.depth(a.region_id), a.area, self.nodes[a.region_id].code)).region_id

    def depth(self, region_id: int) -> int:
        """0 for a city … 3 for a grid."""
        return LEVEL_DEPTH.get(self.nodes[region_id].level, 0)

    def candidates(self, address: str) -> list[_Candidate]:
        """Every place name or alias found in the address, each resolved to one region."""
        text = normalise_address(address)
        found: dict[str, list[_Entry]] = {}
        for i in range(len(text)):
            for length in self.term_lengths:
                term = text[i:i + length]
                if len(term) == length and term in self.entries:
                    found[term] = self.entries[term]
        spans = {term: {e.region_id for e in es if e.region_id in self.nodes} for term, es in found.items()}
        result = []
        for term, ids in spans.items():
            for other in spans.values():  # another place in the address narrows a name shared by several regions
                narrowed = {r for r in ids if other.intersection(self.ladder_ids(r))}
                ids = narrowed if len(ids) > 1 and narrowed else ids
            target = self.common_ancestor(sorted(ids)) if ids else None
            if target is not None:
                place, is_alias = min(e.place for e in found[term]), all(e.is_alias for e in found[term])
                result.append(_Candidate(target, place, term, is_alias, len(ids) > 1))
        return result

    def best(self, candidates: list[_Candidate]) -> tuple[_Candidate, float] | None:
        """Most specific wins: deeper region, longer term, a name over an alias, then the lower region code."""
        if not candidates:
            return None
        win = min(candidates, key=lambda c: (-self.depth(c.region_id), -len(c.term), c.is_alias,
                                             self.nodes[c.region_id].code, c.place))
        confidence = (0.8 if win.is_alias else 0.9) * (0.6 if win.ambiguous else 1.0)
        ladder = set(self.ladder_ids(win.region_id))
        if any(c.region_id not in ladder and win.region_id not in self.ladder_ids(c.region_id) for c in candidates):
            confidence *= 0.75  # the address also names a place somewhere else
        return win, round(confidence, 2)


def _area(region_id: int, geometry: dict[str, Any]) -> _Area | None:
    """A prepared polygon; a broken row is logged and skipped so one bad boundary can't stop all routing."""
    try:
        geom = shape(geometry.get("geometry", geometry) if geometry.get("type") == "Feature" else geometry)
    except Exception:  # shapely raises several types for bad GeoJSON; the importer reports them properly
        logger.warning("unreadable boundary skipped", extra={"region_id": region_id}, exc_info=True)
        return None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        logger.warning("boundary is not a polygon, skipped", extra={"region_id": region_id})
        return None
    geom = geom if geom.is_valid else shapely.make_valid(geom)
    return _Area(region_id, geom, prep(geom), float(geom.area))


def _shift(shift: DutyShift, staff: Staff) -> _Shift | None:
    """A shift with its weekdays parsed; an unreadable one is logged and skipped (nobody is on duty by it)."""
    try:
        days = parse_weekdays(shift.weekdays)
    except ValueError:
        logger.warning("unreadable duty shift skipped", extra={"shift_id": shift.id}, exc_info=True)
        return None
    return _Shift(shift.region_id, staff.id, staff.staff_code, staff.role, days, shift.start, shift.end,
                  shift.valid_from, shift.valid_to)


class GridRouter:
    """Places reports in grids and finds who is on duty, over one session's unit of work."""

    def __init__(self, session: Session, index: RoutingIndex, *, tz: ZoneInfo = DEFAULT_TZ,
                 policy: RoutingPolicy | None = None) -> None:
        self.session, self.index, self.tz = session, index, tz
        self.policy = policy or RoutingPolicy()

    @classmethod
    def load(cls, session: Session, *, tz: ZoneInfo = DEFAULT_TZ, policy: RoutingPolicy | None = None) -> GridRouter:
        """Build a router with a fresh index read from the database."""
        return cls(session, RoutingIndex.load(session), tz=tz, policy=policy)

    def place_names(self) -> list[str]:
        """Every place name and alias, sorted, for the tokenizer's user dictionary."""
        return list(self.index.names)

    def grid_for(self, address: str | None, location: tuple[float, float] | None) -> GridMatch | None:
        """Place a report: a (lat, lon) inside a boundary first, then the most specific place named in the address."""
        if location is not None:
            lat, lon = location
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"location {location!r} is not (lat, lon) in degrees")
            region_id = self.index.locate(lat, lon)
            if region_id is not None and (region := self._region(region_id)) is not None:
                return GridMatch(region, MatchMethod.BOUNDARY, 0.95)
        best = self.index.best(self.index.candidates(address)) if address else None
        if best is None or (region := self._region(best[0].region_id)) is None:
            return None
        win, confidence = best
        return GridMatch(region, MatchMethod.GAZETTEER, confidence, place=win.place, term=win.term)

    def on_duty(self, region_id: int, at: datetime) -> list[Staff]:
        """Active staff on duty for the region at ``at``, earliest shift start first, then by staff code."""
        return [s for shift in self._on_duty(region_id, at) if (s := self.session.get(Staff, shift.staff_id))]

    def ladder(self, region: Region | int) -> list[Region]:
        """The region and its ancestors up to the city."""
        region_id = region if isinstance(region, int) else region.id
        return [r for rid in self.index.ladder_ids(region_id) if (r := self._region(rid)) is not None]

    def next_level(self, region: Region | int) -> Region | None:
        """The region one level up, where escalation goes; None at the top."""
        ladder = self.ladder(region)
        return ladder[1] if len(ladder) > 1 else None

    def route(self, address: str | None, location: tuple[float, float] | None, at: datetime, *,
              category: str | None = None, prefer_roles: Sequence[str] | None = None,
              home_grid_id: int | None = None) -> RoutingDecision:
        """Place the report, then give it to the first on-duty person up the ladder; the trace says why.

        ``home_grid_id`` (the grid of a QR code the user scanned) is used when neither place nor point matches.
        """
        match = self.grid_for(address, location)
        if match is None and home_grid_id is not None and home_grid_id in self.index.nodes:
            home = self._region(home_grid_id)
            match = GridMatch(home, MatchMethod.HOME, 0.5, home.name, home.code) if home else None
        start_id = match.region.id if match else self.index.city_id
        trace = [self._opening(match, start_id)]
        ladder = self.index.ladder_ids(start_id) if start_id is not None else []
        roles = tuple(prefer_roles) if prefer_roles is not None else self.policy.category_roles.get(category or "", ())
        steps = [(rid, roles) for rid in ladder if roles and self.index.nodes[rid].level in self.policy.preferred_levels]
        steps += [(rid, self.policy.level_roles.get(self.index.nodes[rid].level, ())) for rid in ladder]
        for region_id, wanted in steps:
            pick = self._pick(region_id, wanted, at)
            where = self._label(region_id)
            if pick is None:
                trace.append(f"no {'/'.join(wanted) or 'staff'} on duty at {where}")
                continue
            trace.append(f"assigned {pick.staff_code} ({pick.role}) at {where}")
            return self._decision(match, self._region(region_id), self.session.get(Staff, pick.staff_id), trace)
        top = self._label(ladder[-1]) if ladder else "the city (none configured)"
        trace.append(f"nobody on duty up to {top}; left unassigned")
        return self._decision(match, self._region(ladder[-1]) if ladder else None, None, trace)

    def duty_at(self, region: Region | int, at: datetime) -> Staff | None:
        """Whoever takes cases at this region now, by the level's role rules (None when nobody is on duty)."""
        region_id = region if isinstance(region, int) else region.id
        wanted = self.policy.level_roles.get(self.index.nodes[region_id].level, ())
        pick = self._pick(region_id, wanted, at)
        return self.session.get(Staff, pick.staff_id) if pick else None

    def escalation_target(self, region: Region | int, at: datetime) -> tuple[Region | None, Staff | None]:
        """The first level above ``region`` with someone on duty (or the top level with nobody); (None, None) at the top."""
        ladder = self.ladder(region)[1:]
        for level in ladder:
            staff = self.duty_at(level, at)
            if staff is not None:
                return level, staff
        return (ladder[-1], None) if ladder else (None, None)

    def _opening(self, match: GridMatch | None, start_id: int | None) -> str:
        """The first trace line: how the report was placed."""
        where = self._label(start_id) if start_id is not None else "no city region"
        if match is None:
            return f"no place or boundary matched, starting at {where}"
        if match.method is MatchMethod.BOUNDARY:
            return f"boundary matched → {where}"
        if match.method is MatchMethod.HOME:
            return f"no place matched; the user's QR-code grid → {where}"
        return f"gazetteer matched {match.place} → {where}"

    def _decision(self, match: GridMatch | None, region: Region | None, assignee: Staff | None,
                  trace: list[str]) -> RoutingDecision:
        """Assemble the decision; ``grid`` is set only when the report was placed in a grid."""
        grid = match.region if match and match.region.level == "grid" else None
        return RoutingDecision(grid, region, assignee, "; ".join(trace), tuple(trace), match)

    def _on_duty(self, region_id: int, at: datetime) -> list[_Shift]:
        """Shifts on duty now, one per staff member, ordered by when the shift began, then staff code."""
        if at.tzinfo is None:
            raise ValueError("on_duty needs an aware datetime")
        local = at.astimezone(self.tz)
        started: dict[int, tuple[datetime, str, _Shift]] = {}
        for s in self.index.shifts.get(region_id, []):
            began = shift_started_at(s.weekdays, s.start, s.end, s.valid_from, s.valid_to, local)
            if began is not None and (s.staff_id not in started or (began, s.staff_code) < started[s.staff_id][:2]):
                started[s.staff_id] = (began, s.staff_code, s)
        return [entry[2] for entry in sorted(started.values(), key=lambda e: (e[0], e[1]))]

    def _pick(self, region_id: int, roles: tuple[str, ...], at: datetime) -> _Shift | None:
        """The first on-duty person in role preference order (any role when ``roles`` is empty)."""
        present = self._on_duty(region_id, at)
        if not roles:
            return present[0] if present else None
        return next((s for role in roles for s in present if s.role == role), None)

    def _region(self, region_id: int) -> Region | None:
        """The Region row in this session (an identity-map hit when the index was loaded here)."""
        return self.session.get(Region, region_id)

    def _label(self, region_id: int) -> str:
        """'grid G01', 'community CM01' … for traces."""
        node = self.index.nodes[region_id]
        return f"{node.level} {node.code}"


class RouterCache:
    """Keeps one RoutingIndex between requests and reads it again after ``max_age`` seconds, so an org import
    into a running service takes effect without a restart; ``invalidate()`` forces it at once."""

    def __init__(self, *, tz: ZoneInfo = DEFAULT_TZ, policy: RoutingPolicy | None = None,
                 max_age: float = 300.0) -> None:
        self.tz, self.policy, self.max_age = tz, policy, max_age
        self._index: RoutingIndex | None = None
        self._loaded_at = 0.0

    def router(self, session: Session) -> GridRouter:
        """A router over ``session``, reading the index from the database when it is missing or too old."""
        if self._index is None or clock.monotonic() - self._loaded_at > self.max_age:
            self._index, self._loaded_at = RoutingIndex.load(session), clock.monotonic()
        return GridRouter(session, self._index, tz=self.tz, policy=self.policy)

    def invalidate(self) -> None:
        """Forget the index; the next ``router()`` call reads it again."""
        self._index = None
