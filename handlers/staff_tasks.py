"""The staff side in chat: binding, 我的任务, 接单, 办结 (+photo), 转派, 详情, 今日统计 and 督办.

Commands work typed (``接单 20261204-0007``), as button presses from a pushed case (``task:accept:NO``) and in
natural language through the classifier's staff intents. Every refusal is a clear message and an audit record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

from bot.messages import Button
from core.lifecycle import CaseStatus
from core.models import Case, Region, Staff
from core.permissions import Act, Viewer, allowed, audit
from core.repositories import CaseEventRepository, CaseRepository
from core.services import cases as svc
from core.services.dispatch import announce, announce_since, last_event_id
from core.services.stats import area_stats
from handlers import texts
from handlers.flow import Flow, Intent, NoDraft, Step, Turn, on_cancel
from handlers.notices import case_values, local

_COMMAND = re.compile(r"^\s*(接单|办结|转派|详情|督办)\s*(\d{8}-?\d{4})?\s*[，,：:]?\s*(.*)$", re.DOTALL)
VERBS = {"接单": "accept", "办结": "resolve", "转派": "transfer", "详情": "detail", "督办": "supervise"}
INTENT_VERBS = {Intent.TASK_ACCEPT: "accept", Intent.TASK_RESOLVE: "resolve", Intent.TASK_TRANSFER: "transfer"}
LIST_WORDS = ("我的任务", "我的工单", "待办", "任务列表")
STATS_WORDS = ("今日统计", "今天统计", "统计")
_GRID_NAME = re.compile(r"(第?[0-9一二三四五六七八九十]+网格|[A-Z]{1,3}\d{2,})")


class StaffState(StrEnum):
    """Where a staff conversation waits."""

    RESOLVE_NOTE = "resolve_note"
    RESOLVE_PHOTO = "resolve_photo"
    TRANSFER_REASON = "transfer_reason"


@dataclass
class TaskDraft:
    """The case being worked on and what was said about it so far."""

    number: str = ""
    note: str = ""
    photos: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Command:
    """A staff command: the verb, the case number (if given) and the rest of the message."""

    verb: str
    number: str | None
    rest: str


def parse_command(turn: Turn) -> Command | None:
    """Read a staff command from a button, typed text or the classifier; None when it is not one."""
    if turn.choice and turn.choice.startswith("task:"):
        _, verb, number = turn.choice.split(":", 2)
        return Command(verb, number, "")
    if any(word in turn.text for word in LIST_WORDS):
        return Command("list", None, "")
    if turn.text.strip() in STATS_WORDS:
        return Command("stats", None, "")
    if match := _COMMAND.match(turn.text):
        typed = match.group(2)
        return Command(VERBS[match.group(1)], _dashed(typed) if typed else None, match.group(3).strip())
    sure = turn.nlu.confidence >= turn.settings.nlu_intent_threshold
    said = INTENT_VERBS.get(Intent(turn.nlu.intent)) if sure and turn.nlu.intent in INTENT_VERBS else None
    if said or turn.nlu.intent == Intent.TASK_LIST:
        return Command(said or "list", turn.nlu.case_numbers[0] if turn.nlu.case_numbers else None, "")
    return None


def is_staff_command(turn: Turn) -> bool:
    """Whether a bound staff member's message is a staff command."""
    return turn.identity.staff_id is not None and parse_command(turn) is not None


def _dashed(number: str) -> str:
    return number if "-" in number else f"{number[:8]}-{number[8:]}"


# --- steps ----------------------------------------------------------------------------------------------------


def on_command(turn: Turn, draft: TaskDraft) -> Step:
    """Run a staff command: list, stats, or an action on one case."""
    staff = _staff(turn)
    command = parse_command(turn)
    if staff is None or command is None:
        return Step.end(texts.STAFF_HELP)
    if command.verb == "list":
        return my_tasks(turn, staff)
    if command.verb == "stats":
        return today_stats(turn, staff)
    case = _case_for(turn, staff, command)
    if case is None:
        verb = next(k for k, v in VERBS.items() if v == command.verb)
        return Step.end(texts.CASE_UNKNOWN.format(number=command.number) if command.number
                        else texts.WHICH_CASE.format(verb=verb))
    draft.number = case.number
    return ACTIONS[command.verb](turn, staff, case, draft, command.rest)


def my_tasks(turn: Turn, staff: Staff) -> Step:
    """The staff member's open tasks, overdue first."""
    tasks = CaseRepository(turn.db).list_open_for_assignee(staff.id)
    if not tasks:
        return Step.end(texts.NO_TASKS)
    lines = [_task_line(turn, case) for case in sorted(tasks, key=lambda c: (not _overdue(c, turn.now), _due(c)))]
    return Step.end("\n".join([texts.TASKS_HEADER, *lines]))


def accept(turn: Turn, staff: Staff, case: Case, draft: TaskDraft, rest: str) -> Step:
    """接单: the assignee takes the case on; the reporter hears of it."""
    if not _permitted(turn, staff, Act.ACCEPT, case):
        return Step.end(texts.PERMISSION_DENIED)
    event = svc.accept_case(turn.db, case, actor=svc.staff_actor(staff), now=turn.now)
    announce(turn.db, turn.notifier, case, [event])
    return Step.end(texts.ACCEPTED.format(number=case.number, due=local(case.resolve_due_at, turn.settings.tz)))


def start_resolve(turn: Turn, staff: Staff, case: Case, draft: TaskDraft, rest: str) -> Step:
    """办结: take the note (given or asked) and then an optional photo."""
    if not _permitted(turn, staff, Act.RESOLVE, case):
        return Step.end(texts.PERMISSION_DENIED)
    if case.status != CaseStatus.ACCEPTED:
        return Step.end(texts.ILLEGAL_TRANSITION.format(number=case.number))
    if not rest:
        return Step.goto(StaffState.RESOLVE_NOTE, texts.ASK_RESOLVE_NOTE.format(number=case.number))
    draft.note = rest
    return Step.goto(StaffState.RESOLVE_PHOTO, texts.ASK_RESOLVE_PHOTO, [Button(texts.SKIP, "skip")])


def on_resolve_note(turn: Turn, draft: TaskDraft) -> Step:
    """Store the resolution note and offer to attach a photo."""
    if not turn.text:
        return Step.stay(texts.ASK_RESOLVE_NOTE.format(number=draft.number))
    draft.note = turn.text
    return Step.goto(StaffState.RESOLVE_PHOTO, texts.ASK_RESOLVE_PHOTO, [Button(texts.SKIP, "skip")])


def on_resolve_photo(turn: Turn, draft: TaskDraft) -> Step:
    """Take the photo (or skip) and resolve; the reporter gets the note, the photo and the rating request."""
    staff, case = _staff(turn), CaseRepository(turn.db).get_by_number(draft.number)
    if staff is None or case is None or not _permitted(turn, staff, Act.RESOLVE, case):
        return Step.end(texts.PERMISSION_DENIED)
    photos = [*draft.photos, turn.media_ref] if turn.media_ref else draft.photos
    event = svc.resolve_case(turn.db, case, actor=svc.staff_actor(staff), now=turn.now, note=draft.note,
                             media=photos)
    announce(turn.db, turn.notifier, case, [event])
    return Step.end(texts.RESOLVED.format(number=case.number))


def start_transfer(turn: Turn, staff: Staff, case: Case, draft: TaskDraft, rest: str) -> Step:
    """转派: needs a reason; goes to the community desk, or to the grid the reason names."""
    if not _permitted(turn, staff, Act.TRANSFER, case):
        return Step.end(texts.PERMISSION_DENIED)
    if not rest:
        return Step.goto(StaffState.TRANSFER_REASON, texts.ASK_TRANSFER_REASON.format(number=case.number))
    return transfer(turn, staff, case, rest)


def on_transfer_reason(turn: Turn, draft: TaskDraft) -> Step:
    """Store the reason and transfer."""
    staff, case = _staff(turn), CaseRepository(turn.db).get_by_number(draft.number)
    if staff is None or case is None:
        return Step.end(texts.PERMISSION_DENIED)
    if not turn.text:
        return Step.stay(texts.ASK_TRANSFER_REASON.format(number=draft.number))
    return transfer(turn, staff, case, turn.text)


def transfer(turn: Turn, staff: Staff, case: Case, reason: str) -> Step:
    """Hand the case to the named grid's duty, else the community desk above the case's grid."""
    router = turn.router()
    region = _named_grid(turn, reason) or _community_of(turn, case)
    target = router.duty_at(region, turn.now) if region else None  # type: ignore[attr-defined]
    if region is None or target is None or target.id == case.assignee_id:
        return Step.end(texts.NO_TRANSFER_TARGET)
    event = svc.transfer_case(turn.db, case, target, actor=svc.staff_actor(staff), now=turn.now, reason=reason,
                              region=region)
    announce(turn.db, turn.notifier, case, [event])
    return Step.end(texts.TRANSFERRED.format(number=case.number, target=f"{region.name}的{target.name}"))


def detail(turn: Turn, staff: Staff, case: Case, draft: TaskDraft, rest: str) -> Step:
    """详情: the case with its timeline, for whoever may see it."""
    if not _permitted(turn, staff, Act.VIEW, case):
        return Step.end(texts.PERMISSION_DENIED)
    values = case_values(turn.db, case, turn.settings.tz, turn.taxonomy)
    head = texts.STAFF_DETAIL.format(**values, phone=case.contact_phone or texts.NONE,
                                     status=texts.STATUS_NAMES[CaseStatus(case.status)])
    lines = [texts.TIMELINE_LINE.format(time=local(e.at, turn.settings.tz), what=texts.EVENT_NAMES.get(e.kind, e.kind),
                                        note=f"：{e.note}" if e.note and e.kind in ("transferred", "resolved",
                                                                                    "supervised", "commented") else "")
             for e in CaseEventRepository(turn.db).for_case(case.id)]
    buttons = [Button(texts.ACCEPT, f"task:accept:{case.number}")] if case.status == CaseStatus.ASSIGNED else []
    return Step.end("\n".join([head, texts.TIMELINE_HEADER, *lines]), buttons)


def supervise(turn: Turn, staff: Staff, case: Case, draft: TaskDraft, rest: str) -> Step:
    """督办: an admin over the case marks it; the assignee and their superior are told."""
    if not _permitted(turn, staff, Act.SUPERVISE, case):
        return Step.end(texts.PERMISSION_DENIED)
    if not rest:
        return Step.end(texts.SUPERVISE_NEEDS_NOTE.format(number=case.number))
    before = last_event_id(turn.db, case)
    svc.supervise_case(turn.db, case, actor=svc.staff_actor(staff), now=turn.now, note=rest)
    announce_since(turn.db, turn.notifier, case, before, superior_of=turn.router())
    return Step.end(texts.SUPERVISED.format(number=case.number))


def today_stats(turn: Turn, staff: Staff) -> Step:
    """今日统计: today's figures by grid for the admin's area."""
    if staff.role not in ("community_admin", "street_admin", "city_admin"):
        audit(turn.db, f"staff:{staff.staff_code}", "stats", None, allowed=False, now=turn.now,
              reason=f"{staff.role} may not see statistics")
        return Step.end(texts.ADMINS_ONLY)
    local_now = turn.now.astimezone(turn.settings.tz)
    start = datetime.combine(local_now.date(), time(0, 0), tzinfo=turn.settings.tz)
    rows = area_stats(turn.db, staff.region_id, start, turn.now)
    region = turn.db.get(Region, staff.region_id)
    lines = [texts.STATS_LINE.format(**row.as_dict()) for row in rows]
    head = texts.STATS_HEADER.format(area=region.name if region else "", time=local_now.strftime("%H:%M"))
    return Step.end("\n".join([head, *lines]))


ACTIONS = {"accept": accept, "resolve": start_resolve, "transfer": start_transfer, "detail": detail,
           "supervise": supervise}


# --- helpers --------------------------------------------------------------------------------------------------


def _staff(turn: Turn) -> Staff | None:
    return turn.db.get(Staff, turn.identity.staff_id) if turn.identity.staff_id else None


def _permitted(turn: Turn, staff: Staff, act: Act, case: Case) -> bool:
    """Whether the staff member may; a refusal is written to the audit log (and the turn still commits it)."""
    viewer = Viewer(turn.person.id, staff)
    if allowed(turn.db, viewer, act, case):
        return True
    audit(turn.db, viewer.label, str(act), case.number, allowed=False, now=turn.now,
          reason=f"{staff.role} {staff.staff_code} may not {act} this case")
    return False


def _case_for(turn: Turn, staff: Staff, command: Command) -> Case | None:
    """The case named, or the only one of the staff member's open tasks the command can mean."""
    repo = CaseRepository(turn.db)
    if command.number:
        return repo.get_by_number(command.number)
    wanted = {"accept": CaseStatus.ASSIGNED, "resolve": CaseStatus.ACCEPTED}.get(command.verb)
    candidates = [c for c in repo.list_open_for_assignee(staff.id) if wanted is None or c.status == wanted]
    return candidates[0] if len(candidates) == 1 else None


def _named_grid(turn: Turn, reason: str) -> Region | None:
    """A grid the reason names by code or name (转第2网格 / 转G02)."""
    from sqlalchemy import or_, select

    for token in _GRID_NAME.findall(reason):
        name = token if token.startswith("第") else f"第{token}"
        region = turn.db.scalars(select(Region).where(Region.level == "grid", or_(
            Region.code == token, Region.name == token, Region.name == name))).first()
        if region is not None:
            return region
    return None


def _community_of(turn: Turn, case: Case) -> Region | None:
    """The community above the case's grid (the desk a worker hands a case back to)."""
    region = turn.db.get(Region, case.grid_id or case.region_id) if (case.grid_id or case.region_id) else None
    while region is not None and region.level not in ("community", "street", "city"):
        region = turn.db.get(Region, region.parent_id) if region.parent_id else None
    return region


def _due(case: Case) -> datetime:
    due = case.resolve_due_at if case.status == CaseStatus.ACCEPTED else case.accept_due_at
    return due or case.created_at


def _overdue(case: Case, now: datetime) -> bool:
    return _due(case) <= now


def _task_line(turn: Turn, case: Case) -> str:
    template = texts.DUE_RESOLVE if case.status == CaseStatus.ACCEPTED else texts.DUE_ACCEPT
    return texts.TASK_LINE.format(overdue=texts.OVERDUE_MARK if _overdue(case, turn.now) else "",
                                  number=case.number, category=turn.taxonomy.category(case.category).name,
                                  status=texts.STATUS_NAMES[CaseStatus(case.status)],
                                  where=case.address_text or texts.NO_PLACE,
                                  due=template.format(time=local(_due(case), turn.settings.tz)))


STAFF_FLOW = Flow(
    "staff_tasks", TaskDraft, entry=on_command,
    states={StaffState.RESOLVE_NOTE: on_resolve_note, StaffState.RESOLVE_PHOTO: on_resolve_photo,
            StaffState.TRANSFER_REASON: on_transfer_reason},
    fallbacks={Intent.CANCEL: on_cancel},
)
STAFF_HELP_FLOW = Flow("staff_help", NoDraft, entry=lambda turn, draft: Step.end(texts.STAFF_HELP))


_BIND = re.compile(r"^\s*(?:绑定|bind[_ ]?)\s*([A-Za-z0-9\- ]{4,16})\s*$", re.IGNORECASE)


def bind_code(turn: Turn) -> str | None:
    """The code in ``绑定 CODE`` (or a deep-link payload ``bind_CODE``); None when the message is not a binding."""
    for candidate in (turn.text, turn.choice or ""):
        if match := _BIND.match(candidate):
            return match.group(1)
    return None


def on_bind(turn: Turn, draft: NoDraft) -> Step:
    """Tie this chat account to the staff record of a one-time code."""
    from core.services.binding import BindingRefused, redeem

    code = bind_code(turn)
    if code is None or turn.store is None:
        return Step.end(texts.BIND_ASK_CODE)
    try:
        staff = redeem(turn.db, turn.store, turn.identity, code, now=turn.now)
    except BindingRefused as refused:
        return Step.end(texts.BIND_LOCKED if refused.reason == "too_many_attempts" else texts.BIND_INVALID)
    region = turn.db.get(Region, staff.region_id)
    return Step.end(texts.BOUND.format(name=staff.name, role=texts.ROLE_NAMES.get(staff.role, staff.role),
                                       region=region.name if region else ""))


BIND_FLOW = Flow("bind_staff", NoDraft, entry=on_bind)
