"""``gridbot staff invite|revoke|unbind|list``: tying staff members' chat accounts to their records."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotFound, OperatorError
from core.models import ChannelIdentity, Region, Staff
from core.services import binding
from core.settings import get_settings
from gridbot.cli_case import local, table
from gridbot.operator import operator_session

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

_BOT_NAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")


def register(sub: SubParsers) -> None:
    """Add ``staff invite``, ``staff revoke``, ``staff unbind`` and ``staff list``."""
    staff = sub.add_parser("staff", help="staff chat accounts: one-time binding codes, unbinding, the list")
    actions = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    invite = actions.add_parser("invite", help="issue a one-time binding code (valid 24 h)")
    invite.add_argument("staff_id", metavar="STAFF_ID")
    invite.add_argument("--bot-username", help="the Telegram bot's username, to print a full t.me deep link")
    invite.set_defaults(func=cmd_invite)
    revoke = actions.add_parser("revoke", help="revoke every unused binding code of a staff member")
    revoke.add_argument("staff_id", metavar="STAFF_ID")
    revoke.set_defaults(func=cmd_revoke)
    unbind = actions.add_parser("unbind", help="detach every chat account from a staff member")
    unbind.add_argument("staff_id", metavar="STAFF_ID")
    unbind.set_defaults(func=cmd_unbind)
    listing = actions.add_parser("list", help="staff with role, region and bound chat accounts")
    listing.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    listing.set_defaults(func=cmd_list)


def _staff(session: Session, staff_code: str) -> Staff:
    found = session.scalars(select(Staff).where(Staff.staff_code == staff_code)).first()
    if found is None:
        raise OperatorError(f"no staff member with staff_id {staff_code!r} (see gridbot staff list)")
    return found


def _bot_username(value: str | None) -> str | None:
    if value is None:
        return None
    match = _BOT_NAME.match(value.strip())
    if match is None:
        raise OperatorError(f"--bot-username: {value!r} is not a Telegram bot username")
    return match.group(1)


def cmd_invite(args: argparse.Namespace) -> int:
    """Issue a code and print it with its expiry and how to send it."""
    settings = get_settings()
    bot = _bot_username(args.bot_username)
    now = datetime.now(UTC)
    with operator_session() as session:
        staff = _staff(session, args.staff_id)
        code = binding.create_invite(session, staff.staff_code, now=now)
        who = f"{staff.staff_code} {staff.name} ({staff.role}, {staff.region.code} {staff.region.name})"
    print(f"binding code for {who}: {code}")
    print(f"valid until {local(now + binding.CODE_TTL, settings.tz)} ({settings.timezone}), single use")
    print(f"send this to the bot: 绑定 {code}")
    if settings.telegram_token is not None or bot is not None:
        link = f"https://t.me/{bot}?start=bind_{code}" if bot else "https://t.me/<bot username>?start=bind_" + code
        print(f"Telegram: /start bind_{code}  (deep link {link})")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke the staff member's unused codes."""
    with operator_session() as session:
        staff = _staff(session, args.staff_id)
        count = binding.revoke_codes(session, staff.staff_code, now=datetime.now(UTC))
    print(f"revoked {count} unused code(s) of {staff.staff_code}")
    return 0


def cmd_unbind(args: argparse.Namespace) -> int:
    """Detach the staff member's chat accounts (and revoke their unused codes)."""
    with operator_session() as session:
        staff = _staff(session, args.staff_id)
        try:
            count = binding.unbind(session, staff.staff_code, now=datetime.now(UTC))
        except NotFound as exc:
            raise OperatorError(str(exc)) from None
    print(f"unbound {count} chat account(s) from {staff.staff_code}; unused codes revoked")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every staff member with role, region, whether active, how many chat accounts are bound and how many
    of those the platforms still reach (an unfollowed or blocked account gets no notices)."""
    with operator_session() as session:
        counts = session.execute(
            select(ChannelIdentity.staff_id, func.count(ChannelIdentity.id), func.count(ChannelIdentity.id).filter(
                ChannelIdentity.unreachable_since.is_(None)))
            .where(ChannelIdentity.staff_id.is_not(None)).group_by(ChannelIdentity.staff_id)).tuples().all()
        bound = {staff_id: (total, reachable) for staff_id, total, reachable in counts}
        rows = session.execute(select(Staff, Region).join(Region, Region.id == Staff.region_id)
                               .order_by(Staff.staff_code)).tuples().all()
        records = [{"staff_id": s.staff_code, "name": s.name, "role": s.role, "region": r.code,
                    "region_name": r.name, "level": r.level, "active": s.active,
                    "bound": bound.get(s.id, (0, 0))[0], "reachable": bound.get(s.id, (0, 0))[1]}
                   for s, r in rows]
    if args.json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    elif not records:
        print("no staff: import the organisation with gridbot org import")
    else:
        head = ["staff_id", "name", "role", "region", "active", "bound", "reachable"]
        print(table([head, *([str(r["staff_id"]), str(r["name"]), str(r["role"]),
                              f"{r['region']} {r['region_name']}", "yes" if r["active"] else "no",
                              str(r["bound"]), str(r["reachable"])] for r in records)]))
    return 0
