"""The case lifecycle: statuses, the actions that move a case, and the table of what is allowed.

受理 (submitted) → 派单 (assigned) → 接单 (accepted) → 办结 (resolved) → 回访/关闭 (closed);
转派 (transfer) and 升级 (escalate) hand an open case to someone else, 不满意 reopens it, 撤销 cancels it.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import IllegalTransition


class CaseStatus(StrEnum):
    """Where a case stands."""

    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CaseAction(StrEnum):
    """Verbs that change a case's status (each writes one CaseEvent of the same name)."""

    ASSIGN = "assigned"
    ACCEPT = "accepted"
    TRANSFER = "transferred"
    ESCALATE = "escalated"
    RESOLVE = "resolved"
    REOPEN = "reopened"
    CLOSE = "closed"
    CANCEL = "cancelled"


class EventKind(StrEnum):
    """Every kind of row in a case's timeline: the actions above plus events that keep the status."""

    CREATED = "created"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    SUPERVISED = "supervised"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    RATED = "rated"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    COMMENTED = "commented"


S = CaseStatus
OPEN_STATUSES = frozenset({S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.REOPENED})
FINAL_STATUSES = frozenset({S.CLOSED, S.CANCELLED})

# action → (statuses it may start from, status it leads to)
TRANSITIONS: dict[CaseAction, tuple[frozenset[CaseStatus], CaseStatus]] = {
    CaseAction.ASSIGN: (frozenset({S.SUBMITTED, S.REOPENED}), S.ASSIGNED),
    CaseAction.ACCEPT: (frozenset({S.ASSIGNED}), S.ACCEPTED),
    CaseAction.TRANSFER: (frozenset({S.ASSIGNED, S.ACCEPTED}), S.ASSIGNED),
    CaseAction.ESCALATE: (frozenset({S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.REOPENED}), S.ASSIGNED),
    CaseAction.RESOLVE: (frozenset({S.ACCEPTED}), S.RESOLVED),
    CaseAction.REOPEN: (frozenset({S.RESOLVED, S.CLOSED}), S.REOPENED),
    CaseAction.CLOSE: (frozenset({S.RESOLVED}), S.CLOSED),
    CaseAction.CANCEL: (frozenset({S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.REOPENED}), S.CANCELLED),
}

# status → statuses reachable in one step (the same table, read the other way)
ALLOWED: dict[CaseStatus, frozenset[CaseStatus]] = {
    status: frozenset(to for froms, to in TRANSITIONS.values() if status in froms) for status in CaseStatus
}


def next_status(case_no: str, current: CaseStatus, action: CaseAction) -> CaseStatus:
    """The status ``action`` leads to from ``current``; IllegalTransition when the table forbids it."""
    froms, to = TRANSITIONS[action]
    if current not in froms:
        raise IllegalTransition(case_no, str(current), str(action))
    return to
