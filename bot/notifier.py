"""The production Notifier: renders each notice and queues it in the outbox for every account the person has."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.outbox import enqueue
from core.models import ChannelIdentity, Staff
from core.notify import Notice
from core.repositories import PersonRepository
from core.taxonomy import Taxonomy
from handlers.notices import hint, render

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxNotifier:
    """Notices become outbox rows (in the caller's transaction); the worker delivers them."""

    tz: ZoneInfo
    taxonomy: Taxonomy

    def to_staff(self, session: Session, staff: Staff, notice: Notice) -> None:
        """Queue for each reachable chat account bound to the staff member."""
        self._queue_all(session, PersonRepository(session).identities_of_staff(staff.id), notice,
                        f"staff {staff.id}")

    def to_person(self, session: Session, person_id: int, notice: Notice) -> None:
        """Queue for each reachable chat account of the resident or enterprise contact."""
        self._queue_all(session, PersonRepository(session).identities_of_person(person_id), notice,
                        f"person {person_id}")

    def _queue_all(self, session: Session, identities: Sequence[ChannelIdentity], notice: Notice, who: str) -> None:
        """Queue for every account the platform still reaches; say so when that is none of them."""
        reachable = [identity for identity in identities if identity.unreachable_since is None]
        for identity in reachable:
            self._queue(session, identity, notice)
        if not reachable:
            logger.info("notice %s for %s reaches nobody: %s chat account(s), none reachable",
                        notice.kind, who, len(identities))

    def _queue(self, session: Session, identity: ChannelIdentity, notice: Notice) -> None:
        reply = render(session, notice, tz=self.tz, taxonomy=self.taxonomy)
        payload = {"text": reply.text, "hint": hint(reply), "notice": str(notice.kind),
                   "buttons": [[b.label, b.payload] for b in reply.buttons],
                   "fallback": {"notice": str(notice.kind), "data": template_fields(reply.text)}}
        enqueue(session, f"{notice.key}:{identity.id}", identity.platform, identity.external_id, "text", payload,
                case_id=notice.case_id)


def template_fields(text: str) -> dict[str, str]:
    """Fields for a template message when the 48-hour window is closed: the first line, cut to WeChat's 20."""
    first, _, rest = text.partition("\n")
    return {"first": first[:20], "remark": rest.replace("\n", " ")[:20]}
