"""``gridbot wechat menu`` and ``gridbot wechat check``: operator commands for the 公众号."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.adapters.wechat_api import WeChatApi, WeChatApiError, WeChatUnavailable
from core.errors import ConfigError, OperatorError
from core.settings import Settings, get_settings
from core.store import make_store

DEFAULT_MENU = Path(__file__).resolve().parent.parent / "examples" / "wechat_menu.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wechat menu`` and ``wechat check``."""
    wechat = sub.add_parser("wechat", help="WeChat official account: menu, credentials")
    wechat_sub = wechat.add_subparsers(dest="wechat_command", metavar="COMMAND")
    wechat_sub.required = True
    menu = wechat_sub.add_parser("menu", help="show the menu, or create it on WeChat with --apply")
    menu.add_argument("--apply", action="store_true", help="call menu/create (limited to 1000 a day)")
    menu.add_argument("--file", type=Path, help="menu JSON (default GRIDBOT_WECHAT_MENU_FILE or the example)")
    menu.set_defaults(func=cmd_menu)
    check = wechat_sub.add_parser("check", help="check the credentials by fetching an access token")
    check.set_defaults(func=cmd_check)


def load_menu(path: Path) -> dict[str, Any]:
    """Read and check a menu file: at most 3 top-level buttons with at most 5 sub-buttons each."""
    try:
        menu = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OperatorError(f"menu file {path}: {exc}") from None
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise OperatorError(f"menu file {path}: 'button' must list 1 to 3 buttons")
    for button in buttons:
        if len(button.get("sub_button", [])) > 5:
            raise OperatorError(f"menu file {path}: {button.get('name')!r} has more than 5 sub-buttons")
    return dict(menu)


def make_api(settings: Settings) -> WeChatApi:
    """The API client, or a ConfigError naming what is missing."""
    if not settings.wechat_app_id or settings.wechat_app_secret is None:
        raise ConfigError("set GRIDBOT_WECHAT_APP_ID and GRIDBOT_WECHAT_APP_SECRET")
    return WeChatApi(settings.wechat_api_base, settings.wechat_app_id,
                     settings.wechat_app_secret.get_secret_value(), make_store(settings.redis_url))


def cmd_menu(args: argparse.Namespace) -> int:
    """Print the menu, or create it on WeChat."""
    settings = get_settings()
    menu = load_menu(args.file or settings.wechat_menu_file or DEFAULT_MENU)
    if not args.apply:
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        print("(dry run: add --apply to create it on WeChat)")
        return 0
    try:
        make_api(settings).create_menu(menu)
    except (WeChatApiError, WeChatUnavailable) as exc:
        raise OperatorError(f"menu/create failed: {exc}") from None
    print(f"menu created: {' / '.join(b['name'] for b in menu['button'])} (clients refresh within 5 minutes)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Report which settings are present and whether a token can be had."""
    settings = get_settings()
    for name in ("wechat_token", "wechat_app_id", "wechat_app_secret", "wechat_aes_key"):
        print(f"{name.upper():24} {'set' if getattr(settings, name) else 'MISSING'}")
    try:
        make_api(settings).access_token()
    except (WeChatApiError, WeChatUnavailable) as exc:
        hint = " (add this server's egress IP to the 公众号 IP whitelist)" if "40164" in str(exc) else ""
        raise OperatorError(f"access token: {exc}{hint}") from None
    print(f"access token             ok ({settings.wechat_api_base})")
    return 0
