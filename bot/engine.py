"""One conversational turn: identify the sender, load the conversation, run a flow step, commit once, reply.

The engine is the single error boundary: a domain refusal becomes a clear message, anything unexpected is
logged with its traceback (never the message text) and the user gets an apology with the menu — never silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from bot.deps import Deps
from bot.messages import Inbound, InboundKind, Reply
from bot.router import FLOWS, interrupts, pick_flow
from bot.session import Conversation, SessionStore
from core.db import unit_of_work
from core.errors import DomainError, IllegalTransition, PermissionDenied
from core.services.people import identify
from handlers import texts
from handlers.flow import Flow, Outcome, Step, Turn, Understanding, menu_buttons

logger = logging.getLogger(__name__)

PAYLOAD_KINDS = frozenset({InboundKind.BUTTON, InboundKind.SUBSCRIBE, InboundKind.SCAN})

Record = Callable[[Session], None]
"""A channel's own write for this message (its inbound row), made first in the turn's unit of work."""


class NotRecorded(Exception):
    """The channel's record could not be written (``__cause__`` says why: a duplicate, or the database)."""


class Engine:
    """Turns an Inbound into replies, on any platform."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sessions = SessionStore(deps.store, deps.settings.session_ttl_seconds)

    def handle(self, inbound: Inbound, *, record: Record | None = None) -> list[Reply]:
        """Run one turn in one unit of work; never raises, never returns nothing.

        ``record`` (the channel's inbound row) is written first in the same unit of work, so a turn costs one
        commit; when it fails nothing runs and NotRecorded is raised. A turn that fails after it still keeps
        the record, written again on its own.
        """
        try:
            with unit_of_work(self.deps.session_factory) as db:
                if record is not None:
                    _write(db, record)
                return self._turn(db, inbound)
        except NotRecorded:
            raise
        except DomainError as exc:
            logger.info("turn refused: %s", type(exc).__name__, extra={"platform": str(inbound.platform)})
            self._record_alone(record)
            return [Reply(domain_message(exc), menu_buttons())]
        except Exception:
            logger.exception("turn failed",
                             extra={"platform": str(inbound.platform), "kind": str(inbound.kind)})
            self._forget(inbound)
            self._record_alone(record)
            return [Reply(texts.SORRY, menu_buttons())]

    def _record_alone(self, record: Record | None) -> None:
        """Keep the channel's record of a message whose turn was rolled back."""
        if record is not None:
            with unit_of_work(self.deps.session_factory) as db:
                _write(db, record)

    def _turn(self, db: Session, inbound: Inbound) -> list[Reply]:
        """Load, step, save; the conversation is saved before the commit so a failed commit forgets it."""
        conversation = self.sessions.load(inbound.platform, inbound.user_key)
        turn = self._build_turn(db, inbound, conversation)
        step = self._dispatch(turn, conversation)
        replies = list(step.replies)
        conversation.offer(replies)
        conversation.memo = turn.memo
        self.sessions.save(inbound.platform, inbound.user_key, conversation)
        return replies

    def _build_turn(self, db: Session, inbound: Inbound, conversation: Conversation) -> Turn:
        """Identify the sender and understand the message."""
        now = self.deps.clock()
        person, identity = identify(db, str(inbound.platform), inbound.user_key, now, inbound.display_name)
        text = (inbound.text or "").strip()
        choice = inbound.payload if inbound.kind in PAYLOAD_KINDS else conversation.choice_for(text)
        nlu = self.deps.nlu(text, now) if text and choice is None else Understanding()
        if inbound.phone:
            nlu = Understanding(phones=(inbound.phone,))
        return Turn(db=db, person=person, identity=identity, kind=inbound.kind, text=text, choice=choice, nlu=nlu,
                    now=now, settings=self.deps.settings, taxonomy=self.deps.taxonomy,
                    router=lambda: self.deps.routers(db), policies=lambda: self.deps.policies(db),
                    location=inbound.location, media_ref=inbound.media_ref, memo=dict(conversation.memo),
                    notifier=self.deps.notifier, store=self.deps.store)

    def _dispatch(self, turn: Turn, conversation: Conversation) -> Step:
        """Resume the waiting flow; if it hands the message back (or none waits), start the right one."""
        active = FLOWS.get(conversation.flow or "")
        if active is not None and conversation.state and not interrupts(turn, active.name):
            step, draft = active.resume(turn, conversation.state, conversation.draft)
            if step.outcome is not Outcome.HANDOFF:
                return advance(conversation, active, step, draft)
        conversation.end_flow()
        flow = pick_flow(turn)
        step, draft = flow.start(turn)
        if not step.replies:  # an entry that hands back would leave the user in silence
            step = Step.end(texts.UNKNOWN, menu_buttons())
        return advance(conversation, flow, step, draft)

    def _forget(self, inbound: Inbound) -> None:
        """Drop the conversation after a failure so a broken state cannot trap the user."""
        try:
            self.sessions.clear(inbound.platform, inbound.user_key)
        except Exception:
            logger.exception("could not clear the conversation")


def _write(db: Session, record: Record) -> None:
    """Write and flush the channel's record, so a duplicate is refused before the turn runs."""
    try:
        record(db)
        db.flush()
    except Exception as exc:
        raise NotRecorded(str(exc)) from exc


def advance(conversation: Conversation, flow: Flow[Any], step: Step, draft: dict[str, Any]) -> Step:
    """Record where the flow goes after ``step``."""
    if step.outcome is Outcome.GOTO:
        conversation.flow, conversation.state, conversation.draft = flow.name, step.state, draft
    elif step.outcome is Outcome.STAY:
        conversation.draft = draft
    else:
        conversation.end_flow()
    return step


def domain_message(exc: DomainError) -> str:
    """A clear Chinese sentence for a refusal from the domain."""
    if isinstance(exc, IllegalTransition):
        return texts.ILLEGAL_TRANSITION.format(number=exc.case_no)
    if isinstance(exc, PermissionDenied):
        return texts.PERMISSION_DENIED
    return texts.DOMAIN_ERROR
