"""The persistent outbox: messages are rows first and deliveries second, so a crash loses nothing.

Delivery guarantee, stated honestly. A worker *claims* a row by setting a lease (``locked_until``) in one
conditional UPDATE, renews that lease just before calling the platform (so each send starts with a full
lease, however long the batch has taken), then marks it sent with another conditional UPDATE that only
succeeds while its lease is still the row's lease. A process killed before the claim or during the call
loses nothing: the lease expires and another worker retries. A process killed while its call is in flight,
or in the short gap after the platform accepted a message and before the mark-sent commit, causes that
message to be sent again once the lease expires (one message per worker, as a worker sends one at a time).
A worker that stalls past its lease does not send at all; the lease must outlast the longest send.
Delivery is therefore at-least-once; duplicates are confined to the sends in flight when a process dies,
and the unique ``dedupe_key`` plus ``status`` make enqueueing and marking exactly-once from our side.
tests/webhooks/test_wechat_kill.py kills a real ``gridbot serve`` mid-delivery to check this.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import SessionFactory, unit_of_work
from core.models import OutboxMessage
from core.services.people import mark_unreachable

logger = logging.getLogger(__name__)

PENDING, SENT, DEAD, FAILED, FELL_BACK = "pending", "sent", "dead", "failed", "fallback"
EXPIRED = "lease-expired"  # what ``deliver`` reports when it refused to send on a lapsed lease (not a row status)
FALLBACK_CODES = frozenset({45015, 45047})  # outside the 48 h 客服 window / quota used up


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed outbox row, as handed to a sender; ``lease`` fences the mark-sent; ``claim`` is the lease the
    whole batch was claimed under (rows of one batch share it until each is renewed for its send)."""

    id: int
    dedupe_key: str
    platform: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    lease: datetime
    claim: datetime


class DeliveryError(Exception):
    """A send failed; ``retryable`` for timeouts/5xx, ``code`` is the platform's error code if any,
    ``retry_after`` the seconds the platform asked us to wait (Telegram 429) instead of our backoff, ``gone``
    when the platform says the recipient cannot be reached at all (unfollowed, bot blocked)."""

    def __init__(self, reason: str, *, retryable: bool, code: int | None = None,
                 retry_after: float | None = None, gone: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after
        self.gone = gone


class Sender(Protocol):
    """Delivers one outbox row to one platform, raising DeliveryError on failure."""

    def __call__(self, delivery: Delivery) -> None:
        """Send it."""


def enqueue(session: Session, dedupe_key: str, platform: str, recipient: str, kind: str,
            payload: dict[str, Any], case_id: int | None = None, *, now: datetime | None = None) -> bool:
    """Add a message unless one with ``dedupe_key`` exists; True when this call added it (no commit)."""
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)) is not None:
        return False
    at = now or _utcnow()
    row = OutboxMessage(dedupe_key=dedupe_key, platform=platform, recipient=recipient, kind=kind, payload=payload,
                        status=PENDING, attempts=0, next_attempt_at=at, case_id=case_id, created_at=at)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent enqueue of the same key won the race
        return False
    return True


def backoff(attempts: int, base: float, cap: float = 600.0) -> float:
    """Seconds before retry number ``attempts``: exponential, capped, with jitter in its upper half."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))


class OutboxWorker:
    """Claims due rows under a lease, sends them, and records the outcome; run in one background thread."""

    def __init__(self, session_factory: SessionFactory, senders: Mapping[str, Sender], *,
                 template_ids: Mapping[str, str] | None = None, clock: Callable[[], datetime] = _utcnow,
                 lease_seconds: float = 60.0, max_attempts: int = 8, base_delay: float = 2.0,
                 batch: int = 20, poll_seconds: float = 1.0,
                 on_backlog: Callable[[int], None] | None = None,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self._factory = session_factory
        self._senders = dict(senders)
        self._templates = dict(template_ids or {})
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._batch = batch
        self._poll = poll_seconds
        self._on_backlog = on_backlog
        self._on_failure = on_failure
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self) -> list[Delivery]:
        """Lease up to ``batch`` due rows for this worker (each claim is one conditional UPDATE)."""
        now = self._clock()
        lease = now + self._lease
        due = (select(OutboxMessage.id)
               .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now,
                      OutboxMessage.platform.in_(self._senders),
                      or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now))
               .order_by(OutboxMessage.id).limit(self._batch))
        claimed: list[Delivery] = []
        with unit_of_work(self._factory) as session:
            for row_id in session.scalars(due).all():
                won = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING,
                           or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now))
                    .values(locked_until=lease, attempts=OutboxMessage.attempts + 1)
                    .execution_options(synchronize_session=False))
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    row = session.get_one(OutboxMessage, row_id, populate_existing=True)
                    claimed.append(Delivery(row.id, row.dedupe_key, row.platform, row.recipient, row.kind,
                                            dict(row.payload), row.attempts, lease, lease))
        return claimed

    def _finish(self, delivery: Delivery, **values: Any) -> bool:
        """Apply ``values`` only if our lease still holds the row; False when the lease was lost."""
        with unit_of_work(self._factory) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == delivery.id, OutboxMessage.status == PENDING,
                       OutboxMessage.locked_until == delivery.lease)
                .values(locked_until=None, **values)
                .execution_options(synchronize_session=False))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _renew(self, delivery: Delivery) -> Delivery | None:
        """The delivery under a fresh lease for its send, or None when its lease lapsed or was taken.

        A batch is claimed under one lease but sent one row at a time, so without this a row late in a slow
        batch would start its send with little lease left, and another worker could claim and send it too.
        """
        now = self._clock()
        if now >= delivery.lease:  # a stalled worker: the row may already belong to another
            return None
        lease = now + self._lease
        with unit_of_work(self._factory) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == delivery.id, OutboxMessage.status == PENDING,
                       OutboxMessage.locked_until == delivery.lease)
                .values(locked_until=lease)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return replace(delivery, lease=lease)

    def deliver(self, delivery: Delivery) -> str:
        """Renew the row's lease, send it and record the outcome; returns the row's new status."""
        renewed = self._renew(delivery)
        if renewed is None:
            logger.warning("outbox %s: no longer ours before sending (lease lapsed or row settled)", delivery.id)
            return EXPIRED
        delivery = renewed
        try:
            self._senders[delivery.platform](delivery)
        except DeliveryError as exc:
            return self._failed(delivery, exc)
        if not self._finish(delivery, status=SENT, sent_at=self._clock(), last_error=None):
            logger.warning("outbox %s: lease lost before mark-sent; it may be delivered twice", delivery.id)
        return SENT

    def _failed(self, delivery: Delivery, exc: DeliveryError) -> str:
        """Retry with backoff, fall back to a template, or give up."""
        if self._on_failure:
            self._on_failure(delivery.platform)
        error = str(exc)[:500]
        if exc.code in FALLBACK_CODES and self._fallback(delivery, error):
            return FELL_BACK
        if exc.gone:
            self._recipient_gone(delivery, error)
        if exc.retryable and delivery.attempts < self._max_attempts:
            delay = exc.retry_after if exc.retry_after is not None else backoff(delivery.attempts, self._base_delay)
            wait = timedelta(seconds=delay)
            self._finish(delivery, next_attempt_at=self._clock() + wait, last_error=error)
            logger.info("outbox %s: attempt %s failed, retrying", delivery.id, delivery.attempts)
            return PENDING
        status = DEAD if exc.retryable else FAILED
        self._finish(delivery, status=status, last_error=error)
        logger.warning("outbox %s: %s after %s attempt(s): %s", delivery.id, status, delivery.attempts, error)
        return status

    def _recipient_gone(self, delivery: Delivery, error: str) -> None:
        """Mark the account unreachable and fail its other waiting rows without calling the platform again.

        Rows of this worker's batch are dropped too (their send then finds them settled); rows another worker
        holds under a lease are left to it; this row is finished by the caller.
        """
        now = self._clock()
        with unit_of_work(self._factory) as session:
            mark_unreachable(session, delivery.platform, delivery.recipient, now)
            dropped = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.platform == delivery.platform, OutboxMessage.recipient == delivery.recipient,
                       OutboxMessage.status == PENDING, OutboxMessage.id != delivery.id,
                       or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now,
                           OutboxMessage.locked_until == delivery.claim))
                .values(status=FAILED, locked_until=None, last_error=f"recipient unreachable: {error}"[:500])
                .execution_options(synchronize_session=False))
        logger.warning("outbox %s: recipient unreachable on %s; %s more row(s) dropped", delivery.id,
                       delivery.platform, dropped.rowcount)  # type: ignore[attr-defined]

    def _fallback(self, delivery: Delivery, error: str) -> bool:
        """Replace a refused 客服 message by a template message when one is configured for its notice."""
        spec = delivery.payload.get("fallback") or {}
        template_id = self._templates.get(str(spec.get("notice", "")))
        if not template_id:
            return False
        body = {"touser": delivery.recipient, "template_id": template_id, "data": spec.get("data", {})}
        if spec.get("url"):
            body["url"] = spec["url"]
        with unit_of_work(self._factory) as session:
            enqueue(session, f"{delivery.dedupe_key}:template", delivery.platform, delivery.recipient,
                    "template", {"body": body}, now=self._clock())
        self._finish(delivery, status=FELL_BACK, last_error=error)
        self._wake.set()
        return True

    def backlog(self) -> int:
        """How many rows are waiting to be delivered."""
        with unit_of_work(self._factory) as session:
            count = session.scalar(select(func.count()).where(OutboxMessage.status == PENDING))
        return int(count or 0)

    def run_once(self) -> int:
        """Claim and deliver one batch; returns how many rows were attempted."""
        deliveries = self.claim()
        for delivery in deliveries:
            self.deliver(delivery)
        if self._on_backlog:
            self._on_backlog(self.backlog())
        return len(deliveries)

    def notify(self) -> None:
        """Wake the worker: something was just enqueued."""
        self._wake.set()

    def _loop(self) -> None:
        """Deliver until stopped; an unexpected error is logged and the loop goes on after a pause."""
        while not self._stop.is_set():
            try:
                busy = self.run_once() == self._batch
            except Exception:  # the worker must outlive a database blip; rows stay pending
                logger.exception("outbox worker pass failed")
                busy = False
            if not busy:
                self._wake.wait(self._poll)
                self._wake.clear()

    def start(self) -> None:
        """Run the delivery loop in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="outbox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for the current pass to end."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
