"""Notices in words: what a pushed message says for each NoticeKind, with the buttons to act on it."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from bot.messages import Button, Reply
from core.models import Case, Staff
from core.notify import Notice, NoticeKind
from core.taxonomy import Taxonomy
from handlers import texts
from handlers.rating import score_buttons

TEMPLATES = {
    NoticeKind.NEW_CASE: texts.NOTICE_NEW_CASE,
    NoticeKind.ACCEPT_DUE_SOON: texts.NOTICE_ACCEPT_DUE_SOON,
    NoticeKind.RESOLVE_DUE_SOON: texts.NOTICE_RESOLVE_DUE_SOON,
    NoticeKind.ESCALATED_TO_YOU: texts.NOTICE_ESCALATED_TO_YOU,
    NoticeKind.ESCALATION_FYI: texts.NOTICE_ESCALATION_FYI,
    NoticeKind.RESOLVE_OVERDUE: texts.NOTICE_RESOLVE_OVERDUE,
    NoticeKind.OVERDUE_AT_TOP: texts.NOTICE_OVERDUE_AT_TOP,
    NoticeKind.TRANSFERRED_TO_YOU: texts.NOTICE_TRANSFERRED_TO_YOU,
    NoticeKind.SUPERVISED: texts.NOTICE_SUPERVISED,
    NoticeKind.CASE_ACCEPTED: texts.NOTICE_CASE_ACCEPTED,
    NoticeKind.CASE_TRANSFERRED: texts.NOTICE_CASE_TRANSFERRED,
    NoticeKind.CASE_RESOLVED: texts.NOTICE_CASE_RESOLVED,
}
ACT_ON = frozenset({NoticeKind.NEW_CASE, NoticeKind.ESCALATED_TO_YOU, NoticeKind.TRANSFERRED_TO_YOU,
                    NoticeKind.ACCEPT_DUE_SOON, NoticeKind.OVERDUE_AT_TOP})


def render(session: Session, notice: Notice, *, tz: tzinfo, taxonomy: Taxonomy) -> Reply:
    """The message for ``notice``: case notices filled from the case, digests from their data."""
    if notice.kind is NoticeKind.DAILY_DIGEST:
        return Reply(_digest(notice.data))
    if notice.kind is NoticeKind.WEEKLY_SUMMARY:
        return Reply(_weekly(notice.data))
    case = session.get(Case, notice.case_id) if notice.case_id else None
    if case is None:
        return Reply(texts.NOTICE_GENERIC.format(number=""))
    template = texts.NOTICE_REOPENED_CASE if notice.data.get("reopened") else TEMPLATES.get(notice.kind)
    text = (template or texts.NOTICE_GENERIC).format(**case_values(session, case, tz, taxonomy), **_extra(notice, tz))
    return Reply(text, _buttons(notice, case))


def hint(reply: Reply) -> str:
    """The buttons of a pushed notice as typed commands, for platforms without buttons on pushes (WeChat)."""
    if any(b.payload.startswith("score:") for b in reply.buttons):
        return texts.HINT_SCORE
    lines = []
    for button in reply.buttons:
        if button.payload.startswith("task:"):
            _, _, number = button.payload.split(":", 2)
            lines.append(texts.HINT_COMMAND.format(command=f"{button.label} {number}", label=button.label))
    return "；".join(lines)


def case_values(session: Session, case: Case, tz: tzinfo, taxonomy: Taxonomy) -> dict[str, str]:
    """The fields notices and details show about a case."""
    handler = session.get(Staff, case.assignee_id) if case.assignee_id else None
    return {"number": case.number, "category": taxonomy.category(case.category).name,
            "description": case.description, "where": case.address_text or texts.NO_PLACE,
            "accept_due": local(case.accept_due_at, tz), "resolve_due": local(case.resolve_due_at, tz),
            "handler": handler.name if handler else texts.NO_HANDLER}


def local(moment: datetime | None, tz: tzinfo) -> str:
    """A deadline as the user reads it: 12-04 14:30."""
    return moment.astimezone(tz).strftime("%m-%d %H:%M") if moment else "—"


def _extra(notice: Notice, tz: tzinfo) -> dict[str, Any]:
    due = notice.data.get("due")
    return {"due": local(datetime.fromisoformat(due), tz) if due else "—", "level": notice.data.get("level") or "",
            "note": notice.data.get("note") or ""}


def _buttons(notice: Notice, case: Case) -> tuple[Button, ...]:
    if notice.kind is NoticeKind.CASE_RESOLVED:
        return tuple(score_buttons())
    if notice.kind in ACT_ON:
        return (Button(texts.ACCEPT, f"task:accept:{case.number}"), Button(texts.TRANSFER, f"task:transfer:{case.number}"),
                Button(texts.DETAIL, f"task:detail:{case.number}"))
    return ()


def _digest(data: dict[str, Any]) -> str:
    """Yesterday's figures for the admin's area, one line per region below it, and the overdue numbers."""
    totals = data.get("totals", {})
    numbers = data.get("overdue_cases") or []
    overdue_list = texts.NOTICE_OVERDUE_LIST.format(numbers="、".join(numbers)) if numbers else ""
    head = texts.NOTICE_DAILY_DIGEST.format(area=data.get("region", {}).get("name", ""), new=totals.get("new", 0),
                                            accepted=totals.get("accepted", 0), resolved=totals.get("resolved", 0),
                                            overdue=data.get("overdue_total", 0), overdue_list=overdue_list)
    rows = [texts.STATS_LINE.format(**row) for row in data.get("rows", [])[1:]]
    return "\n".join([head, *rows])


def _weekly(data: dict[str, Any]) -> str:
    """Last week's three rates, one line per region of the admin's area."""
    def rate(value: float | None) -> str:
        return texts.NO_RATE if value is None else texts.RATE_PERCENT.format(value=value)

    lines = [texts.NOTICE_WEEKLY_SUMMARY.format(area=row.get("name", ""), response=rate(row.get("response")),
                                                resolution=rate(row.get("resolution")),
                                                satisfaction=rate(row.get("satisfaction")))
             for row in data.get("rows", [])]
    return "\n".join(lines) or texts.NOTICE_WEEKLY_SUMMARY.format(area=data.get("region", {}).get("name", ""),
                                                                  response="—", resolution="—", satisfaction="—")
