"""The ``gridbot`` console command: one entry point, subcommands registered by small modules."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from core.errors import OperatorError
from gridbot import (
    cli_case,
    cli_chat,
    cli_data,
    cli_nlu,
    cli_policy,
    cli_service,
    cli_staff,
    cli_telegram,
    cli_wechat,
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="gridbot", description="gridbot — 社区网格化管理聊天机器人服务")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (cli_service, cli_data, cli_policy, cli_nlu, cli_chat, cli_case, cli_staff, cli_wechat,
                   cli_telegram):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; operator mistakes become one clear line on stderr and a non-zero exit."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except OperatorError as exc:
        print(f"gridbot: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, RedisError) as exc:  # lost mid-command: still one line, never a traceback
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"gridbot: a database or Redis call failed: {reason} — check that the service is running and "
              "GRIDBOT_DATABASE_URL / GRIDBOT_REDIS_URL point at it", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
