"""``gridbot case show NO`` and ``gridbot case list``: a case with its timeline, and cases filtered as staff ask."""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import CaseNotFound, NotFound, OperatorError
from core.lifecycle import OPEN_STATUSES, CaseStatus
from core.models import Case, CaseEvent, Person, Region, Staff
from core.services import stats
from core.settings import get_settings
from core.taxonomy import Taxonomy, load_taxonomy
from gridbot.operator import operator_session
from nlp import entities

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

_STATUSES = [str(s) for s in CaseStatus]


def register(sub: SubParsers) -> None:
    """Add ``case show`` and ``case list``."""
    case = sub.add_parser("case", help="cases (工单): show one with its timeline, list by filters")
    actions = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="a case and its timeline")
    show.add_argument("number", metavar="NO", help="case number, e.g. 20261204-0007")
    show.set_defaults(func=cmd_show)
    listing = actions.add_parser("list", help="cases matching every filter given, newest first")
    listing.add_argument("--status", help=f"one of {', '.join(_STATUSES)}, or 'open'")
    listing.add_argument("--category", help="category code or Chinese name, e.g. municipal or 市政设施")
    listing.add_argument("--grid", metavar="CODE", help="region code: the cases of that grid (or of a whole area)")
    listing.add_argument("--assignee", metavar="STAFF_ID", help="the staff_id the cases are assigned to")
    listing.add_argument("--since", metavar="YYYY-MM-DD", help="created on or after this local day")
    listing.add_argument("--until", metavar="YYYY-MM-DD", help="created on or before this local day")
    listing.add_argument("--overdue", action="store_true", help="only open cases past a deadline now")
    listing.add_argument("--limit", default="100", help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    listing.set_defaults(func=cmd_list)


def masked_phone(phone: str | None) -> str:
    """A phone with its middle hidden, or '—'."""
    return entities.mask_phone(phone) if phone else "—"


def mask_text(text: str | None) -> str:
    """Free text with phones and ID numbers masked (the CLI shows cases to operators, not their reporters)."""
    return entities.mask_sensitive(text or "")


def local(moment: datetime | None, tz: tzinfo) -> str:
    """A moment as local 'YYYY-MM-DD HH:MM', or '—'."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns (Chinese characters count double)."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip()
                     for row in rows)


def _region_label(session: Session, region_id: int | None) -> str:
    region = session.get(Region, region_id) if region_id is not None else None
    return f"{region.code} {region.name}" if region else "—"


def _staff_label(session: Session, staff_id: int | None) -> str:
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    return f"{staff.staff_code} {staff.name}" if staff else "—"


def _reporter_phone(session: Session, case: Case) -> str | None:
    person = session.get(Person, case.reporter_id) if case.reporter_id is not None else None
    return case.contact_phone or (person.phone if person else None)


def cmd_show(args: argparse.Namespace) -> int:
    """Print one case and its timeline in local time."""
    settings = get_settings()
    tz, taxonomy = settings.tz, load_taxonomy(settings.taxonomy_file)
    with operator_session() as session:
        try:
            case, events = stats.timeline(session, args.number)
        except CaseNotFound as exc:
            raise OperatorError(str(exc)) from None
        print(_describe(session, case, taxonomy, tz))
        print(f"\ntimeline ({settings.timezone}):")
        print(_timeline(events, tz) if events else "  (no events)")
    return 0


def _describe(session: Session, case: Case, taxonomy: Taxonomy, tz: tzinfo) -> str:
    """The case's fields, one per line; the reporter's phone is masked."""
    reporter = f"person:{case.reporter_id}" if case.reporter_id else "—"
    current = f" (now at {_region_label(session, case.region_id)})" if case.region_id != case.grid_id else ""
    rows = [
        ("case", case.number), ("category", f"{taxonomy.category(case.category).name} ({case.category})"),
        ("status", case.status + (" · 督办 supervised" if case.supervised else "")),
        ("priority", case.priority), ("grid", _region_label(session, case.grid_id) + current),
        ("assignee", _staff_label(session, case.assignee_id)),
        ("escalation", f"level {case.escalation_level}"),
        ("reporter", f"{reporter}, phone {masked_phone(_reporter_phone(session, case))}"),
        ("address", case.address_text or "—"), ("description", mask_text(case.description)),
        ("created", local(case.created_at, tz)), ("accept by", local(case.accept_due_at, tz)),
        ("resolve by", local(case.resolve_due_at, tz)), ("accepted", local(case.accepted_at, tz)),
        ("resolved", local(case.resolved_at, tz)), ("closed", local(case.closed_at, tz)),
        ("rating", f"{case.rating}/5 {mask_text(case.rating_comment)}".strip() if case.rating else "—"),
    ]
    return "\n".join(f"{name + ':':<12} {value}" for name, value in rows)


def _timeline(events: Sequence[CaseEvent], tz: tzinfo) -> str:
    """The events as aligned rows: local time, kind, actor, from → to, note."""
    rows = [["  " + local(e.at, tz), e.kind, e.actor,
             f"{e.from_status or ''} → {e.to_status}" if e.to_status else "", mask_text(e.note)] for e in events]
    return table(rows)


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise OperatorError(f"{option}: {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-12-04") from None


def _category(value: str | None, taxonomy: Taxonomy) -> str | None:
    if value is None:
        return None
    for code, cat in taxonomy.categories.items():
        if value.strip() in (code, cat.name):
            return code
    raise OperatorError(f"--category: unknown category {value!r}; use one of {', '.join(taxonomy.categories)}")


def _statuses(value: str | None) -> list[str] | None:
    if value is None:
        return None
    if value.strip().lower() == "open":
        return sorted(str(s) for s in OPEN_STATUSES)
    if value.strip().lower() not in _STATUSES:
        raise OperatorError(f"--status: unknown status {value!r}; use one of {', '.join(_STATUSES)} or open")
    return [value.strip().lower()]


def _limit(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise OperatorError(f"--limit: {value!r} is not a positive whole number")
    return int(value)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the cases matching the filters, as a table or JSON lines."""
    settings = get_settings()
    tz, taxonomy = settings.tz, load_taxonomy(settings.taxonomy_file)
    since, until = _day("--since", args.since), _day("--until", args.until)
    filters: dict[str, Any] = {
        "status": _statuses(args.status), "category": _category(args.category, taxonomy),
        "since": datetime.combine(since, datetime.min.time(), tzinfo=tz) if since else None,
        "until": datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=tz) if until else None,
        "overdue_at": datetime.now(UTC) if args.overdue else None, "limit": _limit(args.limit),
    }
    with operator_session() as session:
        for option, key, value in (("--grid", "grid_code", args.grid), ("--assignee", "assignee_code", args.assignee)):
            if value is not None and not _exists(session, key, value):
                raise OperatorError(f"{option}: no {'region' if key == 'grid_code' else 'staff member'} {value!r}")
            filters[key] = value
        try:
            found = stats.list_cases(session, **filters)
        except NotFound as exc:
            raise OperatorError(str(exc)) from None
        records = [_record(session, c, taxonomy, tz) for c in found]
    _print(records, as_json=args.json)
    return 0


def _exists(session: Session, key: str, value: str) -> bool:
    if key == "grid_code":
        return session.scalars(select(Region.id).where(Region.code == value)).first() is not None
    return session.scalars(select(Staff.id).where(Staff.staff_code == value)).first() is not None


def _record(session: Session, case: Case, taxonomy: Taxonomy, tz: tzinfo) -> dict[str, Any]:
    """One case as plain values (no phone numbers)."""
    grid = session.get(Region, case.grid_id) if case.grid_id else None
    staff = session.get(Staff, case.assignee_id) if case.assignee_id else None
    waiting = case.status in (CaseStatus.SUBMITTED, CaseStatus.ASSIGNED, CaseStatus.REOPENED)
    due = case.accept_due_at if waiting else case.resolve_due_at if case.status == CaseStatus.ACCEPTED else None
    return {"number": case.number, "status": case.status, "category": case.category,
            "category_name": taxonomy.category(case.category).name, "grid": grid.code if grid else None,
            "grid_name": grid.name if grid else None, "assignee": staff.staff_code if staff else None,
            "assignee_name": staff.name if staff else None, "created_at": local(case.created_at, tz),
            "due_at": local(due, tz) if due else None, "supervised": case.supervised,
            "escalation_level": case.escalation_level}


def _print(records: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
        return
    if not records:
        print("no cases match")
        return
    head = ["number", "status", "category", "grid", "assignee", "created", "due", "督办"]
    rows = [[r["number"], r["status"], r["category_name"], r["grid"] or "—", r["assignee"] or "—",
             r["created_at"], r["due_at"] or "—", "yes" if r["supervised"] else ""] for r in records]
    print(table([head, *rows]))
    print(f"{len(records)} case(s)")
