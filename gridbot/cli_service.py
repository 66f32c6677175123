"""``gridbot serve``, ``gridbot demo`` and ``gridbot db upgrade``: running the service and preparing its data."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from pathlib import Path

from core.db import make_engine, make_session_factory, unit_of_work, upgrade
from core.errors import OperatorError
from core.settings import Settings, get_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve``, ``demo`` and ``db``."""
    serve = sub.add_parser("serve", help="run the web service (WeChat/Telegram webhooks, /healthz)")
    serve.add_argument("--host", help="address to listen on (default GRIDBOT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default GRIDBOT_PORT or 8000)")
    serve.add_argument("--demo", action="store_true", help="seed the demo city first (idempotent)")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="seed a demo city: a street, two communities, four grids, staff, policies")
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="apply migrations up to the newest schema")
    up.set_defaults(func=cmd_db_upgrade)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply every migration."""
    settings = get_settings()
    upgrade(make_engine(settings.database_url))
    print("database schema is up to date")
    return 0


def seed_demo(settings: Settings) -> str:
    """Import the demo organisation and policies shipped in ``examples/``; returns a summary line."""
    from core.importing.org import import_org
    from core.importing.policies import import_policies

    org, policies = EXAMPLES / "org", EXAMPLES / "policies.jsonl"
    if not org.is_dir() or not policies.is_file():
        raise OperatorError(f"demo data not found under {EXAMPLES} (run from a source checkout)")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with unit_of_work(make_session_factory(engine)) as session:
        lines = [import_org(session, org).line(), import_policies(session, policies, now=now).line()]
    engine.dispose()
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo city into the configured database."""
    print(seed_demo(get_settings()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Connect, migrate an embedded database, and serve HTTP until stopped."""
    import uvicorn

    from webhooks.app import build_state, create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = get_settings(**overrides)
    logging.getLogger().setLevel(settings.log_level.upper())
    for noisy in ("httpx", "apscheduler", "alembic"):  # a line per request or per minute is noise, not news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.demo:
        print(seed_demo(settings))
    state = build_state(settings)
    print(f"gridbot serving on http://{settings.host}:{settings.port} (database {state.engine.url.render_as_string()})")
    uvicorn.run(create_app(settings, state), host=settings.host, port=settings.port, log_level="warning",
                access_log=False)
    return 0
