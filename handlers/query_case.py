"""Progress: the user's open and recent cases, or one case by number — only ever their own."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.lifecycle import CaseStatus
from core.models import Case, Region, Staff
from core.repositories import CaseRepository
from handlers import texts
from handlers.flow import Flow, NoDraft, Step, Turn, menu_buttons
from nlp.entities import mask_phone

RECENT = 5


def who_handles(db: Session, case: Case) -> str:
    """'由第1网格的网格员1（139****0001）处理' for a case."""
    region_id = case.region_id or case.grid_id  # the level whose duty took it: a street desk at night
    region = db.get(Region, region_id) if region_id else None
    staff = db.get(Staff, case.assignee_id) if case.assignee_id else None
    phone = mask_phone(staff.phone) if staff and staff.phone else None
    return texts.handled_by(region.name if region else None, staff.name if staff else None, phone)


def own_case(turn: Turn, number: str) -> Case | None:
    """The case with this number when the user reported it; someone else's looks exactly like a missing one."""
    case = CaseRepository(turn.db).get_by_number(number)
    return case if case is not None and case.reporter_id == turn.person.id else None


def case_fields(turn: Turn, case: Case) -> dict[str, str]:
    """The values a case line or detail shows."""
    staff = turn.db.get(Staff, case.assignee_id) if case.assignee_id else None
    updated = case.updated_at.astimezone(turn.settings.tz).strftime("%m-%d %H:%M")
    return {"number": case.number, "category": turn.taxonomy.category(case.category).name,
            "status": texts.STATUS_NAMES[CaseStatus(case.status)], "handler": staff.name if staff else texts.NO_HANDLER,
            "updated": updated, "description": case.description}


def on_progress(turn: Turn, draft: NoDraft) -> Step:
    """Show the case whose number was given, or the user's open and recent cases."""
    if turn.nlu.case_numbers:
        return show_one(turn, turn.nlu.case_numbers[0])
    cases = CaseRepository(turn.db).list_for_reporter(turn.person.id, limit=RECENT)
    if not cases:
        return Step.end(texts.NO_CASES, menu_buttons())
    lines = [texts.CASE_LINE.format(**case_fields(turn, case)) for case in sorted(cases, key=open_first)]
    return Step.end("\n".join([texts.CASES_HEADER, *lines]))


def open_first(case: Case) -> tuple[bool, float]:
    """Sort key: open cases first, then the most recent."""
    is_open = case.status not in (CaseStatus.CLOSED, CaseStatus.CANCELLED, CaseStatus.RESOLVED)
    return (not is_open, -case.created_at.timestamp())


def show_one(turn: Turn, number: str) -> Step:
    """One of the user's cases in detail."""
    case = own_case(turn, number)
    if case is None:
        return Step.end(texts.CASE_NOT_FOUND.format(number=number))
    return Step.end(texts.CASE_DETAIL.format(**case_fields(turn, case)))


PROGRESS_FLOW = Flow("query_case", NoDraft, entry=on_progress)
