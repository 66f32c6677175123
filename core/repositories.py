"""Repositories: queries only (``select()``), never commits. One per aggregate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.lifecycle import OPEN_STATUSES
from core.models import Case, CaseCounter, CaseEvent, ChannelIdentity, Person, Policy, Region, Staff


class RegionRepository:
    """Regions of the ladder."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, region_id: int) -> Region | None:
        return self.session.get(Region, region_id)

    def get_by_code(self, code: str) -> Region | None:
        return self.session.scalars(select(Region).where(Region.code == code)).first()


class StaffRepository:
    """Staff records."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, staff_id: int) -> Staff | None:
        return self.session.get(Staff, staff_id)

    def get_by_code(self, code: str) -> Staff | None:
        return self.session.scalars(select(Staff).where(Staff.staff_code == code)).first()


class PersonRepository:
    """People and their chat identities."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, person_id: int) -> Person | None:
        return self.session.get(Person, person_id)

    def identity(self, platform: str, external_id: str) -> ChannelIdentity | None:
        return self.session.scalars(
            select(ChannelIdentity).where(ChannelIdentity.platform == platform,
                                          ChannelIdentity.external_id == external_id)
        ).first()

    def identities_of_staff(self, staff_id: int) -> Sequence[ChannelIdentity]:
        return self.session.scalars(
            select(ChannelIdentity).where(ChannelIdentity.staff_id == staff_id).order_by(ChannelIdentity.id)
        ).all()

    def identities_of_person(self, person_id: int) -> Sequence[ChannelIdentity]:
        return self.session.scalars(
            select(ChannelIdentity).where(ChannelIdentity.person_id == person_id).order_by(ChannelIdentity.id)
        ).all()


class CaseRepository:
    """Cases and their numbers."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, case: Case) -> Case:
        self.session.add(case)
        self.session.flush()
        return case

    def get(self, case_id: int) -> Case | None:
        return self.session.get(Case, case_id)

    def get_by_number(self, number: str) -> Case | None:
        return self.session.scalars(select(Case).where(Case.number == number)).first()

    def list_for_reporter(self, person_id: int, limit: int = 10) -> Sequence[Case]:
        return self.session.scalars(
            select(Case).where(Case.reporter_id == person_id).order_by(Case.created_at.desc(), Case.id.desc())
            .limit(limit)
        ).all()

    def list_open_for_assignee(self, staff_id: int) -> Sequence[Case]:
        return self.session.scalars(
            select(Case).where(Case.assignee_id == staff_id, Case.status.in_([str(s) for s in OPEN_STATUSES]))
            .order_by(Case.accept_due_at, Case.id)
        ).all()

    def list_open_for_grid(self, grid_id: int) -> Sequence[Case]:
        return self.session.scalars(
            select(Case).where(Case.grid_id == grid_id, Case.status.in_([str(s) for s in OPEN_STATUSES]))
            .order_by(Case.id)
        ).all()

    def next_number(self, day: str) -> str:
        """Hand out the next number of ``day`` (YYYYMMDD); safe under concurrent writers."""
        for _ in range(5):
            last = self.session.execute(
                update(CaseCounter).where(CaseCounter.day == day).values(last=CaseCounter.last + 1)
                .returning(CaseCounter.last)
            ).scalar()
            if last is not None:
                return f"{day}-{last:04d}"
            try:
                with self.session.begin_nested():
                    self.session.add(CaseCounter(day=day, last=1))
                return f"{day}-0001"
            except IntegrityError:
                continue  # another writer created the day's row first: take the next number from it
        raise RuntimeError(f"could not allocate a case number for {day}")


class CaseEventRepository:
    """The append-only timeline."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: CaseEvent) -> CaseEvent:
        self.session.add(event)
        return event

    def for_case(self, case_id: int) -> Sequence[CaseEvent]:
        return self.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()


class PolicyRepository:
    """Policies of the knowledge base."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> Sequence[Policy]:
        return self.session.scalars(select(Policy).order_by(Policy.id)).all()

    def get(self, policy_id: str) -> Policy | None:
        return self.session.get(Policy, policy_id)

    def signature(self) -> tuple[int, datetime | None]:
        """How many policies there are and when the newest changed: enough to tell that an import happened."""
        count, newest = self.session.execute(select(func.count(), func.max(Policy.updated_at))).one()
        return int(count), newest


def touch(case: Case, now: datetime) -> None:
    """Mark a case as changed at ``now``."""
    case.updated_at = now
