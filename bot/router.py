"""Which flow a message starts: by message kind, pressed button, then the understood intent."""

from __future__ import annotations

from typing import Any

from bot.messages import InboundKind
from handlers.enterprise_profile import ENTERPRISE_SERVICE_FLOW
from handlers.fallback import (
    GREET_FLOW,
    HUMAN_FLOW,
    STAFF_NOT_READY_FLOW,
    UNKNOWN_FLOW,
    UNSUPPORTED_FLOW,
)
from handlers.flow import STAFF_INTENTS, Flow, Intent, NoDraft, Turn, on_cancel
from handlers.policy_qa import POLICY_FLOW, wants_to_apply
from handlers.query_case import PROGRESS_FLOW
from handlers.rating import RATING_FLOW
from handlers.report_issue import REPORT_FLOW
from handlers.staff_tasks import BIND_FLOW, STAFF_FLOW, bind_code, is_staff_command

CANCEL_FLOW = Flow("cancel", NoDraft, entry=on_cancel)


INTENT_FLOWS: dict[str, Flow[Any]] = {
    Intent.REPORT: REPORT_FLOW, Intent.POLICY: POLICY_FLOW, Intent.PROGRESS: PROGRESS_FLOW,
    Intent.RATE: RATING_FLOW, Intent.GREET: GREET_FLOW, Intent.HUMAN: HUMAN_FLOW, Intent.CANCEL: CANCEL_FLOW,
}

FLOWS: dict[str, Flow[Any]] = {flow.name: flow for flow in (
    REPORT_FLOW, POLICY_FLOW, PROGRESS_FLOW, RATING_FLOW, GREET_FLOW, HUMAN_FLOW, CANCEL_FLOW, UNKNOWN_FLOW,
    UNSUPPORTED_FLOW, STAFF_NOT_READY_FLOW, ENTERPRISE_SERVICE_FLOW, STAFF_FLOW, BIND_FLOW,
)}

MENU_CHOICES = frozenset({Intent.REPORT, Intent.POLICY, Intent.PROGRESS, Intent.HUMAN})


def pick_flow(turn: Turn) -> Flow[Any]:
    """The flow a message starts when none is waiting for it."""
    if bind_code(turn) is not None:
        return BIND_FLOW  # 绑定 CODE, or a deep link /start bind_CODE
    if turn.kind in (InboundKind.IMAGE, InboundKind.LOCATION):
        return REPORT_FLOW  # a photo or a location first starts a report
    if turn.kind in (InboundKind.SUBSCRIBE, InboundKind.SCAN):
        return GREET_FLOW
    if turn.identity.staff_id is not None and is_staff_command(turn):
        return STAFF_FLOW
    if turn.kind not in (InboundKind.TEXT, InboundKind.BUTTON, InboundKind.CONTACT):
        return UNSUPPORTED_FLOW
    if turn.choice is not None:
        return by_choice(turn.choice)
    if "policy" in turn.memo and wants_to_apply(turn):
        return ENTERPRISE_SERVICE_FLOW
    return by_intent(turn)


def by_choice(choice: str) -> Flow[Any]:
    """A pressed button outside any flow: menu entries, 帮我申请, rating buttons from a notification."""
    if choice == "apply":
        return ENTERPRISE_SERVICE_FLOW
    if choice.startswith("task:"):
        return STAFF_NOT_READY_FLOW  # a staff button pressed from an account that is not (or no longer) bound
    if choice.startswith(("rate:", "score:")):
        return RATING_FLOW
    return INTENT_FLOWS.get(choice, UNKNOWN_FLOW)


def by_intent(turn: Turn) -> Flow[Any]:
    """The flow of a confidently understood intent; a bare case number asks for its progress."""
    intent = turn.nlu.intent
    if intent in STAFF_INTENTS:
        return STAFF_FLOW if turn.identity.staff_id else STAFF_NOT_READY_FLOW
    if turn.nlu.confidence >= turn.settings.nlu_intent_threshold and intent in INTENT_FLOWS:
        return INTENT_FLOWS[intent]
    if turn.nlu.case_numbers:
        return PROGRESS_FLOW
    return UNKNOWN_FLOW


def interrupts(turn: Turn, active: str) -> bool:
    """A menu button pressed in the middle of another flow switches to that flow; so do a follow or QR scan
    (/start on Telegram) and a binding code, which never belong to the flow under way."""
    if turn.kind in (InboundKind.SUBSCRIBE, InboundKind.SCAN) or bind_code(turn) is not None:
        return True
    return turn.choice in MENU_CHOICES and INTENT_FLOWS[turn.choice].name != active
