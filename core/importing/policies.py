"""Import of the policy knowledge base from JSONL, CSV or XLSX, all-or-nothing and idempotent by id."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ImportValidationError
from core.importing import ImportSummary
from core.importing.tabular import (
    Row,
    cell_date,
    cell_text,
    choice,
    parsed,
    read_table,
    require_exists,
    required_text,
    split_list,
)
from core.models import Policy

REQUIRED = ("id", "title", "body", "tags")
AUDIENCES = ("enterprise", "resident", "all")
AUDIENCE_ALIASES = {"企业": "enterprise", "居民": "resident", "全部": "all", "所有": "all", "": "all"}
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class PolicyIn:
    """One valid policy as the file gives it."""

    id: str
    title: str
    body: str
    tags: list[str]
    audience: str
    region_code: str | None
    valid_from: date | None
    valid_to: date | None
    source_url: str | None

    def differs_from(self, policy: Policy) -> bool:
        """True when saving this would change the stored policy."""
        return any(getattr(policy, name) != getattr(self, name) for name in _FIELDS)


_FIELDS = tuple(f.name for f in fields(PolicyIn) if f.name != "id")


def import_policies(session: Session, path: Path, *, now: datetime) -> ImportSummary:
    """Validate every row, then upsert by id (``updated_at = now`` for new and changed ones); nothing on error."""
    require_exists(path)
    problems: list[str] = []
    table = read_table(path, problems)
    is_jsonl = path.suffix.lower() in {".jsonl", ".ndjson"}
    wanted: dict[str, PolicyIn] = {}
    first_line: dict[str, int] = {}
    # JSONL rows each carry their own keys, so a missing key is reported per line there.
    if is_jsonl or table.require(REQUIRED, problems):
        for row in table.rows:
            policy = _check(row, problems)
            if policy is not None and first_line.setdefault(policy.id, row.line) != row.line:
                problems.append(f"{row.where('id')}: duplicate id {policy.id!r} (first on line {first_line[policy.id]})")
            elif policy is not None:
                wanted[policy.id] = policy
    if problems:
        raise ImportValidationError(problems)
    return _write(session, wanted, now, ImportSummary(str(path)))


def _check(row: Row, problems: list[str]) -> PolicyIn | None:
    """One policy row, or None after recording what is wrong with it."""
    before = len(problems)
    policy_id = required_text(row, "id", problems)
    title = required_text(row, "title", problems, 256)
    body = required_text(row, "body", problems, 100_000)
    tags = parsed(row, "tags", _tags, problems, required=False) if "tags" in row.values else None
    if tags is None and "tags" not in row.values:
        problems.append(f"{row.where('tags')}: missing")
    audience = choice(row, "audience", AUDIENCES, AUDIENCE_ALIASES, problems) if row.text("audience") else "all"
    column = "region" if "region" in row.values else "region_code"
    region = row.text(column) or None
    if region and len(region) > 64:
        problems.append(f"{row.where(column)}: longer than 64 characters")
    valid_from = parsed(row, "valid_from", cell_date, problems, required=False)
    valid_to = parsed(row, "valid_to", cell_date, problems, required=False)
    if valid_from and valid_to and valid_to < valid_from:
        problems.append(f"{row.where('valid_to')}: {valid_to} is before valid_from {valid_from}")
    url = row.text("source_url") or None
    if url and (not _URL.fullmatch(url) or len(url) > 512):
        problems.append(f"{row.where('source_url')}: not an http(s) URL: {url[:80]!r}")
    if len(problems) > before:
        return None
    return PolicyIn(policy_id, title, body, tags or [], audience, region, valid_from, valid_to, url)


def _tags(value: Any) -> list[str]:
    """Tags from a JSON list, JSON list text, or text split on , ， 、 ; |."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"looks like a JSON list but is not valid JSON: {exc.msg}") from None
    if isinstance(value, list) and not all(isinstance(t, (str, int, float)) for t in value):
        raise ValueError("must be a list of texts")
    if isinstance(value, dict):
        raise ValueError("must be a list of texts or text separated by commas")  # noqa: TRY004 (a cell problem)
    return split_list(value if isinstance(value, list) else cell_text(value))


def _write(session: Session, wanted: dict[str, PolicyIn], now: datetime, summary: ImportSummary) -> ImportSummary:
    """Insert new policies and update changed ones; policies not in the file stay as they are."""
    counts = summary.kind("policies")
    existing = {p.id: p for p in session.scalars(select(Policy).where(Policy.id.in_(list(wanted))))}
    for item in wanted.values():
        policy = existing.get(item.id)
        if policy is None:
            policy = Policy(id=item.id)  # the remaining fields are set below
            session.add(policy)
            counts.new += 1
        elif item.differs_from(policy):
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        for name in _FIELDS:
            setattr(policy, name, getattr(item, name))
        policy.updated_at = now
    session.flush()
    return summary
