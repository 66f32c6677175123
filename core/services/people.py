"""People and their chat identities: who is talking, created on first contact; enterprise profiles kept once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.credit_code import is_valid_credit_code, normalise_credit_code
from core.errors import DomainError
from core.models import ChannelIdentity, Enterprise, Person, Staff
from core.repositories import PersonRepository

SEEN_GRANULARITY = timedelta(minutes=5)
# Built once: SQLAlchemy memoises a statement's cache key on the object, so every turn skips rebuilding the
# join and recomputing its key (a measurable share of a turn's CPU under load).
_IDENTIFY = (select(Person, ChannelIdentity).join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
             .where(ChannelIdentity.platform == bindparam("platform"),
                    ChannelIdentity.external_id == bindparam("external_id")))


class InvalidCreditCode(DomainError):
    """A unified social credit code with a wrong length, character or check digit."""


def identify(session: Session, platform: str, external_id: str, now: datetime,
             display_name: str | None = None, *, kind: str = "resident") -> tuple[Person, ChannelIdentity]:
    """The person behind a chat account, created with its identity on first contact."""
    row = session.execute(_IDENTIFY, {"platform": platform, "external_id": external_id}).first()
    if row is None:
        person, identity = _create_identity(session, platform, external_id, now, display_name, kind)
    else:
        person, identity = row
    if identity.last_seen_at is None or now - identity.last_seen_at >= SEEN_GRANULARITY:
        identity.last_seen_at = now  # not every turn: a write per message would cost a round trip each
    if identity.unreachable_since is not None:
        identity.unreachable_since = None  # they wrote to us, so they follow (or unblocked) again
    return person, identity


def mark_unreachable(session: Session, platform: str, external_id: str, now: datetime) -> bool:
    """Note that the platform refuses to reach this account (unfollowed, bot blocked); True when it changed.

    Notices then skip the account until its owner writes again (``identify`` clears the mark). An account we
    never met is left alone: there is nobody to mark.
    """
    identity = PersonRepository(session).identity(platform, external_id)
    if identity is None or identity.unreachable_since is not None:
        return False
    identity.unreachable_since = now
    return True


def _create_identity(session: Session, platform: str, external_id: str, now: datetime,
                     display_name: str | None, kind: str) -> tuple[Person, ChannelIdentity]:
    """Insert person and identity in a savepoint; when another request won the race, use its rows.

    The new person is returned, not looked up again: the session holds it only weakly, so a later
    ``session.get`` could find it collected and cost a SELECT. Seen now, so no UPDATE follows.
    """
    try:
        with session.begin_nested():
            person = Person(kind=kind, name=display_name, created_at=now)
            session.add(person)
            session.flush()
            identity = ChannelIdentity(platform=platform, external_id=external_id, person_id=person.id,
                                       created_at=now, last_seen_at=now)
            session.add(identity)
            session.flush()
        return person, identity
    except IntegrityError:
        winner = PersonRepository(session).identity(platform, external_id)
        if winner is None:
            raise
        found = session.get(Person, winner.person_id)
        if found is None:  # the foreign key makes this impossible short of manual deletes
            raise DomainError(f"identity {winner.id} points at a missing person") from None
        return found, winner


def bind_staff(identity: ChannelIdentity, staff: Staff) -> None:
    """Tie a chat account to a staff record (the one-time-code binding arrives with the staff side)."""
    identity.staff_id = staff.id


def remember_phone(person: Person, phone: str | None) -> None:
    """Keep the first contact phone a person gives, to offer it next time."""
    if phone and not person.phone:
        person.phone = phone


@dataclass(frozen=True, slots=True)
class EnterpriseProfile:
    """What an enterprise tells us once: name, credit code, industry, size and address."""

    name: str
    credit_code: str
    industry: str | None = None
    size: str | None = None
    address: str | None = None


def enterprise_of(session: Session, person: Person) -> Enterprise | None:
    """The enterprise profile a person acts for, if they gave one."""
    return session.get(Enterprise, person.enterprise_id) if person.enterprise_id else None


def attach_enterprise(session: Session, person: Person, profile: EnterpriseProfile) -> Enterprise:
    """Link the person to the enterprise with this credit code, creating its profile when it is new."""
    code = normalise_credit_code(profile.credit_code)
    if not is_valid_credit_code(code):
        raise InvalidCreditCode(f"credit code {code!r} fails the GB 32100 check")
    enterprise = session.scalars(select(Enterprise).where(Enterprise.credit_code == code)).first()
    if enterprise is None:
        enterprise = Enterprise(name=profile.name, credit_code=code, industry=profile.industry,
                                size=profile.size, address=profile.address)
        session.add(enterprise)
        session.flush()
    person.enterprise_id = enterprise.id
    person.kind = "enterprise"
    return enterprise
