"""``gridbot chat``: talk to the bot in the terminal, on the same engine and database as the chat platforms."""

from __future__ import annotations

import argparse
import itertools
import shlex
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select

from bot.deps import build_deps, warm_up
from bot.engine import Engine
from bot.messages import GeoPoint, Inbound, InboundKind, Platform, Reply
from core.db import SessionFactory, make_engine, make_session_factory, require_current, unit_of_work, upgrade
from core.errors import OperatorError
from core.models import OutboxMessage, Region
from core.repositories import StaffRepository
from core.services.people import bind_staff, identify
from core.settings import get_settings
from core.store import make_store

ROLES = ("resident", "enterprise", "staff")
HELP = "commands: /loc LAT LON [LABEL]  /photo PATH  /help  /quit   (buttons: type the number or the label)"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``chat`` command."""
    chat = sub.add_parser("chat", help="talk to the bot in the terminal (stdin may be piped)")
    chat.add_argument("--as", dest="role", choices=ROLES, default="resident", help="who you are (default resident)")
    chat.add_argument("--user", help="your chat id; with --as staff, the staff code to bind (default W01)")
    chat.set_defaults(func=cmd_chat)


def cmd_chat(args: argparse.Namespace) -> int:
    """Run the REPL until /quit or end of input."""
    settings = get_settings()
    db_engine = make_engine(settings.database_url)
    if settings.is_embedded_db:
        upgrade(db_engine)
    else:
        require_current(db_engine)
    factory = make_session_factory(db_engine)
    store = make_store(settings.redis_url)
    store.ping()
    user_key = args.user or ("W01" if args.role == "staff" else f"console-{args.role}")
    try:
        prepare_identity(factory, user_key, args.role)
        deps = build_deps(settings, factory, store)
        warm_up(deps)
        engine = Engine(deps)
        interactive = sys.stdin.isatty()
        if interactive:
            print(f"gridbot chat as {args.role} ({user_key}). {HELP}")
        deliver_console_notices(factory, user_key, sys.stdout)
        for inbound in read_inbound(sys.stdin, user_key, interactive):
            print_replies(engine.handle(inbound), sys.stdout)
            deliver_console_notices(factory, user_key, sys.stdout)
    finally:
        store.close()
        db_engine.dispose()
    return 0


def prepare_identity(factory: SessionFactory, user_key: str, role: str) -> None:
    """Create the console user as the chosen kind; a staff user is bound to the staff record of that code."""
    now = datetime.now(UTC)
    with unit_of_work(factory) as db:
        if not db.scalar(select(func.count()).select_from(Region)):
            print("note: no organisation imported yet — run `gridbot demo` for a demo city", file=sys.stderr)
        kind = "enterprise" if role == "enterprise" else "resident"
        _, identity = identify(db, str(Platform.CONSOLE), user_key, now, kind=kind)
        if role == "staff":
            staff = StaffRepository(db).get_by_code(user_key)
            if staff is None:
                raise OperatorError(f"no staff member with code {user_key!r}: import the org or run `gridbot demo`")
            bind_staff(identity, staff)


def read_inbound(lines: TextIO, user_key: str, interactive: bool) -> Iterator[Inbound]:
    """Each input line as an Inbound; /commands become locations and photos."""
    for n in itertools.count(1):
        if interactive:
            print("> ", end="", flush=True)
        line = lines.readline()
        if not line or line.strip() == "/quit":
            return
        inbound = parse_line(line.strip(), user_key, f"console-{n}")
        if inbound is not None:
            yield inbound


def parse_line(line: str, user_key: str, message_id: str) -> Inbound | None:
    """One line as an Inbound, or None for empty lines and /help (printed here)."""
    base = {"platform": Platform.CONSOLE, "user_key": user_key, "chat_key": user_key, "message_id": message_id}
    if not line:
        return None
    if line.startswith("/loc"):
        parts = shlex.split(line)[1:]
        if len(parts) < 2:
            print("usage: /loc LAT LON [LABEL]")
            return None
        point = GeoPoint(float(parts[0]), float(parts[1]), " ".join(parts[2:]) or None)
        return Inbound(kind=InboundKind.LOCATION, location=point, **base)  # type: ignore[arg-type]
    if line.startswith("/photo"):
        path = line.removeprefix("/photo").strip()
        return Inbound(kind=InboundKind.IMAGE, media_ref=str(Path(path).expanduser()), **base)  # type: ignore[arg-type]
    if line.startswith("/help"):
        print(HELP)
        return None
    return Inbound(kind=InboundKind.TEXT, text=line, **base)  # type: ignore[arg-type]


def deliver_console_notices(factory: SessionFactory, user_key: str, out: TextIO) -> int:
    """Print the notices queued for this terminal user (new cases, 接单, 办结 …) and mark them delivered.

    The terminal is a channel like any other: the outbox holds its pushes until the user is here to see them.
    """
    now = datetime.now(UTC)
    with unit_of_work(factory) as db:
        rows = db.scalars(select(OutboxMessage).where(
            OutboxMessage.platform == str(Platform.CONSOLE), OutboxMessage.recipient == user_key,
            OutboxMessage.status == "pending").order_by(OutboxMessage.id)).all()
        for row in rows:
            text = "\n".join(p for p in (row.payload.get("text", ""), row.payload.get("hint", "")) if p)
            print(f"[通知] {text}", file=out)
            row.status, row.sent_at, row.attempts = "sent", now, row.attempts + 1
    out.flush()
    return len(rows)


def print_replies(replies: list[Reply], out: TextIO) -> None:
    """Replies as text, buttons as numbered lines (as WeChat shows them)."""
    for reply in replies:
        print(reply.text, file=out)
        for n, button in enumerate(reply.buttons, start=1):
            print(f"  {n}. {button.label}", file=out)
    out.flush()
