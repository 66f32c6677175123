"""Binding a chat account to a staff record with a one-time code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import ChannelIdentity
from core.services.binding import MAX_FAILURES, BindingRefused, create_invite, redeem, revoke_codes, unbind
from core.store import StateStore
from tests.factories import make_org, make_resident
from tests.fakes import FixedClock


def _identity(db: Session, clock: FixedClock, external_id: str = "openid-1") -> ChannelIdentity:
    person = make_resident(db)
    identity = ChannelIdentity(platform="wechat", external_id=external_id, person_id=person.id, created_at=clock())
    db.add(identity)
    db.flush()
    return identity


def test_code_binds_once(db: Session, store: StateStore, clock: FixedClock) -> None:
    org = make_org(db)
    code = create_invite(db, "W01", now=clock())
    identity = _identity(db, clock)
    assert redeem(db, store, identity, code.lower(), now=clock()).id == org.workers[0].id
    assert identity.staff_id == org.workers[0].id
    other = _identity(db, clock, "openid-2")
    with pytest.raises(BindingRefused):
        redeem(db, store, other, code, now=clock())
    assert other.staff_id is None


def test_expired_and_revoked_codes_are_refused(db: Session, store: StateStore, clock: FixedClock) -> None:
    make_org(db)
    old = create_invite(db, "W01", now=clock())
    revoked = create_invite(db, "W01", now=clock.advance(hours=23))
    assert revoke_codes(db, "W01", now=clock()) == 2
    identity = _identity(db, clock)
    for code in (old, revoked):
        with pytest.raises(BindingRefused):
            redeem(db, store, identity, code, now=clock())
    fresh = create_invite(db, "W01", now=clock())
    with pytest.raises(BindingRefused):
        redeem(db, store, identity, fresh, now=clock.advance(hours=24, seconds=1))


def test_guessing_is_rate_limited(db: Session, store: StateStore, clock: FixedClock) -> None:
    make_org(db)
    code = create_invite(db, "W01", now=clock())
    identity = _identity(db, clock)
    for _ in range(MAX_FAILURES):
        with pytest.raises(BindingRefused):
            redeem(db, store, identity, "WRONG234", now=clock())
    with pytest.raises(BindingRefused) as refused:
        redeem(db, store, identity, code, now=clock())  # even the right code, once the account is locked out
    assert refused.value.reason == "too_many_attempts"


def test_unbind_detaches_every_account(db: Session, store: StateStore, clock: FixedClock) -> None:
    make_org(db)
    identity = _identity(db, clock)
    redeem(db, store, identity, create_invite(db, "W01", now=clock()), now=clock())
    assert unbind(db, "W01", now=clock() + timedelta(minutes=1)) == 1
    assert identity.staff_id is None


def test_invite_for_unknown_staff(db: Session, clock: FixedClock) -> None:
    with pytest.raises(NotFound):
        create_invite(db, "NOPE", now=clock())
