"""Report flow: take everything the first message gives, ask only for what is missing, confirm, file the case."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.messages import Button, InboundKind, Share, ShareRequest
from core.services.cases import OpenCase
from core.services.people import remember_phone
from handlers import texts
from handlers.flow import Flow, Intent, Step, Turn, file_case, on_cancel
from handlers.query_case import who_handles
from nlp.entities import mask_phone, mask_sensitive

SHARE_LOCATION = ShareRequest(Share.LOCATION, texts.SHARE_LOCATION_BUTTON)
SHARE_PHONE = ShareRequest(Share.CONTACT, texts.SHARE_PHONE_BUTTON)


class ReportState(StrEnum):
    """Where the report flow waits."""

    DESCRIBE = "describe"
    CATEGORY = "category"
    LOCATION = "location"
    PHOTO = "photo"
    PHONE = "phone"
    CONFIRM = "confirm"
    EDIT = "edit"


@dataclass
class ReportDraft:
    """The report being filled in, kept in the session between turns."""

    description: str = ""
    category: str | None = None
    guess: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    photos: list[str] = field(default_factory=list)
    photo_asked: bool = False
    phone: str | None = None
    no_phone: bool = False

    @property
    def has_location(self) -> bool:
        """Whether we know where the problem is."""
        return bool(self.address) or self.lat is not None


# --- taking what a message gives ------------------------------------------------------------------------------


def absorb(turn: Turn, draft: ReportDraft) -> str:
    """Store every phone, address, location and photo in the message, in any state; say what was noted."""
    noted: list[str] = []
    if turn.nlu.phones:
        draft.phone, draft.no_phone = turn.nlu.phones[0], False
        noted.append(texts.NOTED_PHONE.format(phone=mask_phone(draft.phone)))
    if turn.nlu.addresses:
        draft.address = turn.nlu.addresses[0]
        noted.append(texts.NOTED_ADDRESS.format(address=draft.address))
    if turn.location is not None:
        draft.lat, draft.lon = turn.location.lat, turn.location.lon
        draft.address = turn.location.label or draft.address
        noted.append(texts.NOTED_LOCATION)
    if turn.kind is InboundKind.IMAGE and turn.media_ref:
        draft.photos.append(turn.media_ref)
        noted.append(texts.NOTED_PHOTO)
    return "，".join(noted)


def take_category(turn: Turn, draft: ReportDraft) -> None:
    """Keep the classifier's category when it is sure, else remember it as a guess to confirm."""
    category = turn.nlu.category
    if category is None or category == "enterprise":
        return
    if turn.nlu.category_confidence >= turn.settings.nlu_category_threshold:
        draft.category, draft.guess = category, None
    elif draft.category is None:
        draft.guess = category


def category_by_name(turn: Turn, text: str) -> str | None:
    """A category the user named in words (市政, 噪音 …)."""
    for code, category in turn.taxonomy.categories.items():
        if text and (category.name in text or (len(text) >= 2 and text in category.name)):
            return code
    return None


def category_buttons(turn: Turn, guess: str | None = None) -> list[Button]:
    """Every report category, the guess first as 是."""
    buttons = [Button(texts.YES_GUESS, f"cat:{guess}")] if guess else []
    return buttons + [Button(c.name, f"cat:{c.code}") for c in turn.taxonomy.categories.values()
                      if c.code not in {guess, "enterprise"}]


def is_generic(turn: Turn) -> bool:
    """A bare 'I want to report' that says nothing about the problem itself."""
    return turn.choice is not None or turn.text in texts.GENERIC_REPORT_WORDS or len(turn.text) <= 3


# --- asking for what is missing -------------------------------------------------------------------------------


def next_question(turn: Turn, draft: ReportDraft, before: str = "") -> Step:
    """Ask for the first thing still missing, or show the summary when nothing is."""
    if not draft.description:
        return Step.goto(ReportState.DESCRIBE, texts.ASK_DESCRIPTION, before=before)
    if draft.category is None:
        ask = texts.CONFIRM_CATEGORY.format(name=turn.taxonomy.category(draft.guess).name) if draft.guess \
            else texts.ASK_CATEGORY
        return Step.goto(ReportState.CATEGORY, ask, category_buttons(turn, draft.guess), before=before)
    if not draft.has_location:
        return Step.goto(ReportState.LOCATION, texts.ASK_LOCATION, before=before, share=SHARE_LOCATION)
    if not draft.photos and not draft.photo_asked:
        return Step.goto(ReportState.PHOTO, texts.ASK_PHOTO, [Button(texts.SKIP, "skip")], before=before)
    if draft.phone is None and not draft.no_phone:
        return ask_phone(turn, before)
    return Step.goto(ReportState.CONFIRM, summary(turn, draft), confirm_buttons(), before=before)


def ask_phone(turn: Turn, before: str) -> Step:
    """Offer the phone we already have, or ask for one."""
    skip = Button(texts.NO_PHONE, "skip")
    if turn.person.phone:
        ask = texts.OFFER_PHONE.format(phone=mask_phone(turn.person.phone))
        return Step.goto(ReportState.PHONE, ask, [Button(texts.USE_THIS_PHONE, "phone:keep"), skip], before=before,
                         share=SHARE_PHONE)
    return Step.goto(ReportState.PHONE, texts.ASK_PHONE, [skip], before=before, share=SHARE_PHONE)


def summary(turn: Turn, draft: ReportDraft) -> str:
    """The report as the user will confirm it."""
    where = draft.address or texts.SHARED_LOCATION
    phone = mask_phone(draft.phone) if draft.phone else texts.NONE
    return texts.SUMMARY.format(category=turn.taxonomy.category(draft.category).name,
                                description=mask_sensitive(draft.description), where=where, photos=len(draft.photos), phone=phone)


def confirm_buttons() -> list[Button]:
    """确认 / 修改 / 取消."""
    return [Button(texts.CONFIRM, "confirm"), Button(texts.EDIT, "edit"), Button(texts.CANCEL, str(Intent.CANCEL))]


# --- the steps ------------------------------------------------------------------------------------------------


def on_start(turn: Turn, draft: ReportDraft) -> Step:
    """Take the problem, category, place, phone or photo the first message gives, then ask what is missing."""
    before = absorb(turn, draft)
    if turn.kind is InboundKind.TEXT and not is_generic(turn):
        draft.description = turn.text
        take_category(turn, draft)
    return next_question(turn, draft, before)


def on_describe(turn: Turn, draft: ReportDraft) -> Step:
    """Store the description of the problem (and its category when clear) and go on."""
    before = absorb(turn, draft)
    if turn.kind is InboundKind.TEXT and turn.text and not turn.nlu.phones:
        draft.description = turn.text
        take_category(turn, draft)
    return next_question(turn, draft, before)


def on_category(turn: Turn, draft: ReportDraft) -> Step:
    """Store the chosen or named category; anything else the message gives is kept too."""
    before = absorb(turn, draft)
    if turn.choice and turn.choice.startswith("cat:"):
        draft.category = turn.choice.removeprefix("cat:")
    elif code := category_by_name(turn, turn.text):
        draft.category = code
    elif not before:
        take_category(turn, draft)
    if draft.category is None and not before:
        return Step.stay(texts.ASK_CATEGORY_AGAIN, category_buttons(turn, draft.guess))
    return next_question(turn, draft, before)


def on_location(turn: Turn, draft: ReportDraft) -> Step:
    """Store the address or shared location; a phone given instead is kept and the place asked again."""
    before = absorb(turn, draft)
    if not draft.has_location and turn.kind is InboundKind.TEXT and turn.text and not before:
        draft.address = turn.text
    if not draft.has_location:
        return Step.stay(texts.ASK_LOCATION_AGAIN, before=before, share=SHARE_LOCATION)
    return next_question(turn, draft, before)


def on_photo(turn: Turn, draft: ReportDraft) -> Step:
    """Store a photo, or go on without one when the user skips."""
    before = absorb(turn, draft)
    if turn.choice == "skip" or turn.text in texts.SKIP_WORDS:
        draft.photo_asked = True
    if not draft.photos and not draft.photo_asked and not before:
        return Step.stay(texts.ASK_PHOTO_AGAIN, [Button(texts.SKIP, "skip")])
    return next_question(turn, draft, before)


def on_phone(turn: Turn, draft: ReportDraft) -> Step:
    """Store the offered phone, a new number, or no phone at all, then show the summary."""
    before = absorb(turn, draft)
    if turn.choice == "phone:keep" or turn.text in texts.YES_WORDS:
        draft.phone = turn.person.phone
    elif turn.choice == "skip" or turn.text in texts.NO_PHONE_WORDS:
        draft.no_phone = True
    if draft.phone is None and not draft.no_phone:
        return ask_phone(turn, before or texts.NOT_A_PHONE)
    return next_question(turn, draft, before)


def on_confirm(turn: Turn, draft: ReportDraft) -> Step:
    """File on 确认; 修改 asks what to change; a correction typed here is taken and the summary shown again."""
    if turn.choice == "confirm" or turn.text in texts.CONFIRM_WORDS:
        return file_report(turn, draft)
    if turn.choice == "edit" or turn.text in texts.EDIT_WORDS:
        return Step.goto(ReportState.EDIT, texts.ASK_WHAT_TO_EDIT, edit_buttons())
    before = correct(turn, draft) or absorb(turn, draft)
    if not before:
        return Step.stay(texts.CONFIRM_OR_EDIT, confirm_buttons())
    return next_question(turn, draft, before)


def on_edit(turn: Turn, draft: ReportDraft) -> Step:
    """Clear the field the user wants to change and ask for it again."""
    field_name = turn.choice.removeprefix("edit:") if turn.choice else texts.field_named(turn.text)
    if field_name is None:
        before = correct(turn, draft) or absorb(turn, draft)
        return next_question(turn, draft, before) if before else \
            Step.stay(texts.ASK_WHAT_TO_EDIT, edit_buttons())
    clear_field(draft, field_name)
    return next_question(turn, draft)


def edit_buttons() -> list[Button]:
    """The fields a report can change."""
    return [Button(label, f"edit:{name}") for name, label in texts.EDITABLE_FIELDS]


def clear_field(draft: ReportDraft, name: str) -> None:
    """Forget one field so that next_question asks for it."""
    if name == "category":
        draft.category = draft.guess = None
    elif name == "address":
        draft.address, draft.lat, draft.lon = None, None, None
    elif name == "photo":
        draft.photos, draft.photo_asked = [], False
    elif name == "phone":
        draft.phone, draft.no_phone = None, False
    elif name == "description":
        draft.description = ""


def correct(turn: Turn, draft: ReportDraft) -> str:
    """Apply a typed correction such as 地址改成幸福小区5栋; say what changed, or '' when it was not one."""
    change = texts.parse_correction(turn.text)
    if change is None:
        return ""
    name, value = change
    if name == "address":
        draft.address, draft.lat, draft.lon = value, None, None
        return texts.NOTED_ADDRESS.format(address=value)
    if name == "category" and (code := category_by_name(turn, value)):
        draft.category = code
        return texts.NOTED_CATEGORY.format(name=turn.taxonomy.category(code).name)
    if name == "description":
        draft.description = value
        return texts.NOTED_DESCRIPTION
    return ""


def file_report(turn: Turn, draft: ReportDraft) -> Step:
    """File the case with routing and tell the user its number and who handles it."""
    location = (draft.lat, draft.lon) if draft.lat is not None and draft.lon is not None else None
    cmd = OpenCase(category=draft.category or "other", description=draft.description, reporter_id=turn.person.id,
                   address_text=draft.address, location=location, contact_phone=draft.phone, media=draft.photos,
                   home_grid_id=turn.person.home_grid_id)
    case = file_case(turn, cmd)
    remember_phone(turn.person, draft.phone)
    return Step.end(texts.filed(case.number, who_handles(turn.db, case)))


REPORT_FLOW = Flow(
    "report_issue", ReportDraft, entry=on_start,
    states={ReportState.DESCRIBE: on_describe, ReportState.CATEGORY: on_category,
            ReportState.LOCATION: on_location, ReportState.PHOTO: on_photo, ReportState.PHONE: on_phone,
            ReportState.CONFIRM: on_confirm, ReportState.EDIT: on_edit},
    fallbacks={Intent.CANCEL: on_cancel},
)
