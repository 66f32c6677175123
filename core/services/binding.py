"""Binding a chat account to a staff record with a one-time code (valid 24 h, single use, revocable)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models import BindingCode, ChannelIdentity, Staff
from core.permissions import audit
from core.store import StateStore

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: codes are read aloud and typed on phones
CODE_LENGTH = 8
CODE_TTL = timedelta(hours=24)
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 3600


class BindingRefused(DomainError):
    """A binding code was wrong, used, expired or revoked, or the account tried too often."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # "invalid", "too_many_attempts"
        super().__init__(f"binding refused: {reason}")


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace(" ", "").replace("-", "").encode()).hexdigest()


def create_invite(session: Session, staff_code: str, *, now: datetime) -> str:
    """Issue a new one-time code for a staff member; earlier unused codes stay valid until used or revoked."""
    staff = session.scalars(select(Staff).where(Staff.staff_code == staff_code)).first()
    if staff is None:
        raise NotFound(f"no staff member with staff_id {staff_code!r}")
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    session.add(BindingCode(code_hash=_hash(code), staff_id=staff.id, created_at=now, expires_at=now + CODE_TTL))
    session.flush()
    audit(session, "operator", "invite", staff.staff_code, allowed=True, now=now)
    return code


def redeem(session: Session, store: StateStore, identity: ChannelIdentity, code: str, *, now: datetime) -> Staff:
    """Tie ``identity`` to the code's staff record; refuses after too many wrong codes from one account."""
    failures_key = f"bindfail:{identity.platform}:{identity.external_id}"
    if int(store.get(failures_key) or 0) >= MAX_FAILURES:
        raise BindingRefused("too_many_attempts")
    row = session.scalars(
        select(BindingCode).where(BindingCode.code_hash == _hash(code)).with_for_update()
    ).first()
    if row is None or row.used_at or row.revoked_at or row.expires_at <= now:
        store.incr(failures_key, ttl=FAILURE_WINDOW_SECONDS)
        audit(session, f"identity:{identity.id}", "bind", None, allowed=False, now=now, reason="invalid code")
        raise BindingRefused("invalid")
    staff = session.get(Staff, row.staff_id)
    assert staff is not None
    row.used_at, row.used_by_identity_id = now, identity.id
    identity.staff_id = staff.id
    session.flush()
    audit(session, f"identity:{identity.id}", "bind", staff.staff_code, allowed=True, now=now)
    return staff


def revoke_codes(session: Session, staff_code: str, *, now: datetime) -> int:
    """Revoke every unused code of a staff member; returns how many."""
    staff = _staff(session, staff_code)
    result = session.execute(
        update(BindingCode).where(BindingCode.staff_id == staff.id, BindingCode.used_at.is_(None),
                                  BindingCode.revoked_at.is_(None)).values(revoked_at=now)
    )
    audit(session, "operator", "revoke", staff.staff_code, allowed=True, now=now)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def unbind(session: Session, staff_code: str, *, now: datetime) -> int:
    """Detach every chat account from a staff record (and revoke open codes); returns accounts unbound."""
    staff = _staff(session, staff_code)
    revoke_codes(session, staff_code, now=now)
    identities = session.scalars(select(ChannelIdentity).where(ChannelIdentity.staff_id == staff.id)).all()
    for identity in identities:
        identity.staff_id = None
    audit(session, "operator", "unbind", staff.staff_code, allowed=True, now=now)
    session.flush()
    return len(identities)


def _staff(session: Session, staff_code: str) -> Staff:
    staff = session.scalars(select(Staff).where(Staff.staff_code == staff_code)).first()
    if staff is None:
        raise NotFound(f"no staff member with staff_id {staff_code!r}")
    return staff
