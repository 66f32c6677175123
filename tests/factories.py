"""Builders for test data. They flush, never commit: the test's transaction is rolled back afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from sqlalchemy.orm import Session

from core.models import DutyShift, Person, Place, Region, Staff

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def make_region(db: Session, code: str, name: str, level: str, parent: Region | None = None) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent.id if parent else None)
    db.add(region)
    db.flush()
    return region


def make_staff(db: Session, code: str, name: str, role: str, region: Region, phone: str | None = None) -> Staff:
    staff = Staff(staff_code=code, name=name, role=role, region_id=region.id, phone=phone, active=True)
    db.add(staff)
    db.flush()
    return staff


def make_shift(
    db: Session, region: Region, staff: Staff, weekdays: str = "1-7", start: str = "00:00", end: str = "00:00"
) -> DutyShift:
    shift = DutyShift(
        region_id=region.id,
        staff_id=staff.id,
        weekdays=weekdays,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
    )
    db.add(shift)
    db.flush()
    return shift


def make_place(db: Session, name: str, region: Region, aliases: list[str] | None = None) -> Place:
    place = Place(name=name, aliases=aliases or [], region_id=region.id)
    db.add(place)
    db.flush()
    return place


def make_resident(db: Session, name: str = "张三", phone: str | None = "13912345678") -> Person:
    person = Person(kind="resident", name=name, phone=phone, created_at=NOW)
    db.add(person)
    db.flush()
    return person


@dataclass
class Org:
    """A small city: one street, two communities, two grids in each, a worker per grid, admins per level."""

    city: Region
    street: Region
    communities: list[Region]
    grids: list[Region]
    workers: list[Staff]
    community_admins: list[Staff]
    street_admin: Staff
    city_desk: Staff
    extra: dict[str, object] = field(default_factory=dict)


def make_org(db: Session, *, with_shifts: bool = True) -> Org:
    """Build the small city; every worker and admin is on duty around the clock unless ``with_shifts`` is False."""
    city = make_region(db, "C01", "滨海市", "city")
    street = make_region(db, "S01", "东湖街道", "street", city)
    communities = [make_region(db, "CM01", "幸福社区", "community", street),
                   make_region(db, "CM02", "和平社区", "community", street)]
    grids = [make_region(db, f"G0{i + 1}", f"第{i + 1}网格", "grid", communities[i // 2]) for i in range(4)]
    workers = [make_staff(db, f"W0{i + 1}", f"网格员{i + 1}", "grid_worker", g, f"1390000000{i + 1}")
               for i, g in enumerate(grids)]
    community_admins = [make_staff(db, f"A0{i + 1}", f"社区管理员{i + 1}", "community_admin", c)
                        for i, c in enumerate(communities)]
    street_admin = make_staff(db, "SA01", "街道值班员", "street_admin", street)
    city_desk = make_staff(db, "CD01", "市指挥中心值班员", "city_admin", city)
    if with_shifts:
        for region, person in [*zip(grids, workers), *zip(communities, community_admins),
                               (street, street_admin), (city, city_desk)]:
            make_shift(db, region, person)
    return Org(city, street, communities, grids, workers, community_admins, street_admin, city_desk)
