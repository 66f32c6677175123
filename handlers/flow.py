"""Flow machinery: the context of one turn, the Step a state function returns, and Flow tables (STYLE 2.4).

Handlers import ``bot.messages`` (Reply, Button, GeoPoint, InboundKind): it is the neutral model, a leaf module
with no imports of its own, so the layers still point one way in substance (errbot plugins do the same).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from bot.messages import Button, GeoPoint, InboundKind, Reply, ShareRequest
from core.models import Case, ChannelIdentity, Person, Staff
from core.notify import Notice, Notifier
from core.services.cases import OpenCase, Router, open_case
from core.services.dispatch import announce_since
from core.settings import Settings
from core.store import StateStore
from core.taxonomy import Taxonomy
from handlers import texts


class Intent(StrEnum):
    """The intents of the default taxonomy; menu buttons carry these codes as payloads."""

    REPORT = "report"
    POLICY = "policy"
    PROGRESS = "progress"
    RATE = "rate"
    GREET = "greet"
    HUMAN = "human"
    CANCEL = "cancel"
    OTHER = "other"
    TASK_ACCEPT = "task_accept"
    TASK_RESOLVE = "task_resolve"
    TASK_LIST = "task_list"
    TASK_TRANSFER = "task_transfer"


STAFF_INTENTS = frozenset({Intent.TASK_ACCEPT, Intent.TASK_RESOLVE, Intent.TASK_LIST, Intent.TASK_TRANSFER})


@dataclass(frozen=True, slots=True)
class Understanding:
    """What the NLU made of a message, in the shape the flows need."""

    intent: str = Intent.OTHER
    confidence: float = 0.0
    category: str | None = None
    category_confidence: float = 0.0
    phones: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    case_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyHit:
    """The best policy for a question: its key sentence, title and source."""

    policy_id: str
    title: str
    summary: str
    source_url: str | None
    score: float


class PolicyAnswerer(Protocol):
    """The policy knowledge base as the flows see it."""

    def answer(self, query: str, *, today: date, audience: str | None) -> PolicyHit | None:
        """The best good-enough answer, or None when nothing matches well."""


@dataclass
class Turn:
    """Everything a step may use: the message understood, who sent it, the database session and the ports."""

    db: Session
    person: Person
    identity: ChannelIdentity
    kind: InboundKind
    text: str
    choice: str | None
    nlu: Understanding
    now: datetime
    settings: Settings
    taxonomy: Taxonomy
    router: Callable[[], Router]
    policies: Callable[[], PolicyAnswerer]
    location: GeoPoint | None = None
    media_ref: str | None = None
    memo: dict[str, Any] = field(default_factory=dict)
    notifier: Notifier = field(default_factory=lambda: SILENT)
    store: StateStore | None = None

    def wants(self, intent: Intent) -> bool:
        """Whether the user pressed that menu choice or clearly said it."""
        if self.choice is not None:
            return self.choice == intent
        if intent is Intent.CANCEL and self.text in texts.CANCEL_WORDS:
            return True
        return self.nlu.intent == intent and self.nlu.confidence >= self.settings.nlu_intent_threshold


class _Silent:
    """A notifier that tells nobody (tools and tests that do not deliver)."""

    def to_staff(self, session: Session, staff: Staff, notice: Notice) -> None:
        """Drop the notice."""

    def to_person(self, session: Session, person_id: int, notice: Notice) -> None:
        """Drop the notice."""


SILENT: Notifier = _Silent()


class Outcome(Enum):
    """What the flow does after a step."""

    GOTO = "goto"
    STAY = "stay"
    END = "end"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True)
class Step:
    """A state function's answer: replies to send and where the conversation goes next."""

    outcome: Outcome
    replies: tuple[Reply, ...] = ()
    state: str | None = None

    @classmethod
    def goto(cls, state: StrEnum, text: str, buttons: Sequence[Button] = (), *, before: str = "",
             share: ShareRequest | None = None) -> Step:
        """Move to ``state`` and ask its question (``before`` acknowledges what was just taken; ``share`` offers
        a one-tap answer where the platform has one)."""
        return cls(Outcome.GOTO, _replies(before, text, buttons, share), str(state))

    @classmethod
    def stay(cls, text: str, buttons: Sequence[Button] = (), *, before: str = "",
             share: ShareRequest | None = None) -> Step:
        """Ask again in the same state."""
        return cls(Outcome.STAY, _replies(before, text, buttons, share))

    @classmethod
    def end(cls, text: str, buttons: Sequence[Button] = (), *, before: str = "") -> Step:
        """Finish the flow with a last message."""
        return cls(Outcome.END, _replies(before, text, buttons))

    @classmethod
    def handoff(cls) -> Step:
        """Not this flow's message: end the flow and let the engine route it afresh."""
        return cls(Outcome.HANDOFF)


def _replies(before: str, text: str, buttons: Sequence[Button],
             share: ShareRequest | None = None) -> tuple[Reply, ...]:
    """One reply, with the acknowledgement on its own line in front."""
    return (Reply(f"{before}\n{text}" if before else text, tuple(buttons), share=share),)


D = TypeVar("D")
StepFn = Callable[[Turn, D], Step]


@dataclass(frozen=True)
class Flow(Generic[D]):
    """A conversation: an entry step, a table of state steps and fallbacks that apply in every state."""

    name: str
    draft: type[D]
    entry: StepFn[D]
    states: Mapping[str, StepFn[D]] = field(default_factory=dict)
    fallbacks: Mapping[Intent, StepFn[D]] = field(default_factory=dict)

    def start(self, turn: Turn) -> tuple[Step, dict[str, Any]]:
        """Run the entry step on a fresh draft."""
        draft = self.draft()
        return self.entry(turn, draft), dataclasses.asdict(draft)  # type: ignore[call-overload]

    def resume(self, turn: Turn, state: str, data: dict[str, Any]) -> tuple[Step, dict[str, Any]]:
        """Run the fallback the user asked for, else the step of the current state."""
        draft = self.draft(**data)
        fallback = next((fn for intent, fn in self.fallbacks.items() if turn.wants(intent)), None)
        step_fn = fallback or self.states.get(state)
        if step_fn is None:
            return Step.handoff(), data
        return step_fn(turn, draft), dataclasses.asdict(draft)  # type: ignore[call-overload]


@dataclass
class NoDraft:
    """The draft of single-turn flows."""


def on_cancel(turn: Turn, draft: object) -> Step:
    """Drop whatever was being filled in and show the menu."""
    return Step.end(texts.CANCELLED, menu_buttons())


def menu_buttons() -> tuple[Button, ...]:
    """The main menu: report, policy, progress, a person."""
    return tuple(Button(label, str(intent)) for intent, label in texts.MENU)


def file_case(turn: Turn, cmd: OpenCase) -> Case:
    """Open a case routed to whoever is on duty, and queue the notices its creation calls for."""
    case = open_case(turn.db, cmd, router=turn.router(), taxonomy=turn.taxonomy, now=turn.now, tz=turn.settings.tz)
    announce_since(turn.db, turn.notifier, case)
    return case
