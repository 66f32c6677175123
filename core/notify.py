"""Notices the domain sends to people, and the port that delivers them (rendered and queued by ``bot/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core.models import Staff


class NoticeKind(StrEnum):
    """Why someone is being told something; the bot layer holds the Chinese wording of each."""

    NEW_CASE = "new_case"                      # to the assignee: a case for you
    ACCEPT_DUE_SOON = "accept_due_soon"        # to the assignee: accept before the deadline
    RESOLVE_DUE_SOON = "resolve_due_soon"      # to the assignee: resolve before the deadline
    ESCALATED_TO_YOU = "escalated_to_you"      # to the next level's on-duty staff
    ESCALATION_FYI = "escalation_fyi"          # to the superior of the level that got it
    RESOLVE_OVERDUE = "resolve_overdue"        # to the superior: an accepted case is past its resolve deadline
    OVERDUE_AT_TOP = "overdue_at_top"          # to the city desk: nobody is left to escalate to
    TRANSFERRED_TO_YOU = "transferred_to_you"
    SUPERVISED = "supervised"                  # 督办: to the assignee and their superior
    CASE_ACCEPTED = "case_accepted"            # to the reporter
    CASE_TRANSFERRED = "case_transferred"      # to the reporter
    CASE_RESOLVED = "case_resolved"            # to the reporter, with the rating request
    CASE_REOPENED = "case_reopened"            # to the assignee
    DAILY_DIGEST = "daily_digest"
    WEEKLY_SUMMARY = "weekly_summary"


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell one kind of recipient; ``key`` makes delivery idempotent (a retried job sends once)."""

    kind: NoticeKind
    key: str
    case_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    """Delivers notices to staff and to residents through whichever channel they are bound on."""

    def to_staff(self, session: Session, staff: Staff, notice: Notice) -> None:
        """Queue ``notice`` for a staff member (in the caller's transaction)."""

    def to_person(self, session: Session, person_id: int, notice: Notice) -> None:
        """Queue ``notice`` for a resident or enterprise contact (in the caller's transaction)."""
