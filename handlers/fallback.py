"""Greeting and menu, unknown input, human handoff (a call-back request) and the staff-intent hook."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.messages import Button, InboundKind
from core.lifecycle import OPEN_STATUSES, CaseStatus
from core.models import Region
from core.repositories import CaseRepository, RegionRepository
from core.services.cases import OpenCase, comment_case, person_actor
from core.services.people import remember_phone
from handlers import texts
from handlers.flow import Flow, Intent, NoDraft, Step, Turn, file_case, menu_buttons, on_cancel
from handlers.query_case import who_handles


def on_greet(turn: Turn, draft: NoDraft) -> Step:
    """Say hello and show the menu; a grid's QR code (qrscene_G01) ties the user to that grid first."""
    grid = grid_of_qr(turn)
    if grid is not None:
        turn.person.home_grid_id = grid.id
        return Step.end(texts.QR_BOUND.format(grid=grid.name) + texts.GREETING, menu_buttons())
    return Step.end(texts.GREETING, menu_buttons())


def grid_of_qr(turn: Turn) -> Region | None:
    """The grid a scanned QR code stands for (scene ``qrscene_CODE`` on follow, ``CODE`` on SCAN)."""
    scene = (turn.choice or "").removeprefix("qrscene_")
    if turn.kind not in (InboundKind.SUBSCRIBE, InboundKind.SCAN) or not scene:
        return None
    region = RegionRepository(turn.db).get_by_code(scene)
    return region if region is not None and region.level == "grid" else None


def on_unknown(turn: Turn, draft: NoDraft) -> Step:
    """Admit we did not understand and show the menu: never a dead end."""
    return Step.end(texts.UNKNOWN, menu_buttons())


def on_unsupported(turn: Turn, draft: NoDraft) -> Step:
    """Voice, links and the like: say what we can take."""
    return Step.end(texts.UNSUPPORTED, menu_buttons())


def on_staff_intent(turn: Turn, draft: NoDraft) -> Step:
    """Staff commands from a resident get a polite refusal; bound staff get the list of commands."""
    if turn.identity.staff_id is None:
        return Step.end(texts.STAFF_ONLY, menu_buttons())
    return Step.end(texts.STAFF_HELP)


class HumanState(StrEnum):
    """Where the handoff flow waits."""

    PHONE = "phone"


@dataclass
class CallbackDraft:
    """Nothing to keep but the flow's place: the phone is asked and used at once."""


def on_human(turn: Turn, draft: CallbackDraft) -> Step:
    """Request a call-back with the phone we have, or ask for one."""
    phone = turn.nlu.phones[0] if turn.nlu.phones else turn.person.phone
    if phone is None:
        return Step.goto(HumanState.PHONE, texts.ASK_CALLBACK_PHONE, [Button(texts.CANCEL, str(Intent.CANCEL))])
    return request_callback(turn, phone)


def on_callback_phone(turn: Turn, draft: CallbackDraft) -> Step:
    """Store the call-back phone and make the request."""
    if not turn.nlu.phones:
        return Step.stay(texts.ASK_CALLBACK_PHONE, before=texts.NOT_A_PHONE)
    return request_callback(turn, turn.nlu.phones[0])


def request_callback(turn: Turn, phone: str) -> Step:
    """Note the call-back on the user's latest open case, or file a call-back case for the on-duty worker."""
    remember_phone(turn.person, phone)
    actor = person_actor(turn.person.id)
    note = texts.CALLBACK_NOTE.format(phone=phone)
    latest = next((c for c in CaseRepository(turn.db).list_for_reporter(turn.person.id)
                   if CaseStatus(c.status) in OPEN_STATUSES), None)
    if latest is not None:
        comment_case(turn.db, latest, actor=actor, now=turn.now, note=note)
        return Step.end(texts.CALLBACK_ON_CASE.format(number=latest.number))
    cmd = OpenCase(category="other", description=texts.CALLBACK_DESCRIPTION, reporter_id=turn.person.id,
                   kind="callback", contact_phone=phone)
    case = file_case(turn, cmd)
    return Step.end(texts.CALLBACK_FILED.format(number=case.number, handled=who_handles(turn.db, case)))


GREET_FLOW = Flow("greet", NoDraft, entry=on_greet)
UNKNOWN_FLOW = Flow("unknown", NoDraft, entry=on_unknown)
UNSUPPORTED_FLOW = Flow("unsupported", NoDraft, entry=on_unsupported)
STAFF_NOT_READY_FLOW = Flow("staff_not_ready", NoDraft, entry=on_staff_intent)
HUMAN_FLOW = Flow(
    "human", CallbackDraft, entry=on_human,
    states={HumanState.PHONE: on_callback_phone},
    fallbacks={Intent.CANCEL: on_cancel},
)
