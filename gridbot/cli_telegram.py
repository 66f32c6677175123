"""``gridbot telegram set-webhook URL`` and ``gridbot telegram check``: operator commands for the Telegram bot."""

from __future__ import annotations

import argparse
import re

from bot.adapters.telegram_api import TelegramApi, TelegramApiError, TelegramUnavailable
from core.errors import ConfigError, OperatorError
from core.settings import Settings, get_settings
from webhooks.telegram import ALLOWED_UPDATES

SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as secret_token


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``telegram set-webhook`` and ``telegram check``."""
    telegram = sub.add_parser("telegram", help="Telegram bot: webhook, credentials")
    telegram_sub = telegram.add_subparsers(dest="telegram_command", metavar="COMMAND")
    telegram_sub.required = True
    hook = telegram_sub.add_parser("set-webhook", help="point the bot at https://<host>/telegram with the secret")
    hook.add_argument("url", help="the public HTTPS URL of /telegram")
    hook.add_argument("--drop-pending", action="store_true", help="discard updates Telegram is still holding")
    hook.set_defaults(func=cmd_set_webhook)
    check = telegram_sub.add_parser("check", help="check the token (getMe) and show the webhook status")
    check.set_defaults(func=cmd_check)


def make_api(settings: Settings) -> TelegramApi:
    """The API client, or a ConfigError naming what is missing."""
    if settings.telegram_token is None:
        raise ConfigError("set GRIDBOT_TELEGRAM_TOKEN")
    return TelegramApi(settings.telegram_api_base, settings.telegram_token.get_secret_value())


def webhook_secret(settings: Settings) -> str:
    """The webhook secret, checked against what Telegram accepts."""
    secret = settings.telegram_webhook_secret
    if secret is None:
        raise ConfigError("set GRIDBOT_TELEGRAM_WEBHOOK_SECRET (1-256 characters of A-Z a-z 0-9 _ -)")
    if not SECRET_SHAPE.match(secret.get_secret_value()):
        raise ConfigError("GRIDBOT_TELEGRAM_WEBHOOK_SECRET may only use A-Z a-z 0-9 _ - (1-256 characters)")
    return secret.get_secret_value()


def cmd_set_webhook(args: argparse.Namespace) -> int:
    """Call setWebhook with the secret header and the update types gridbot handles."""
    settings = get_settings()
    if not args.url.startswith("https://"):
        raise OperatorError("Telegram only delivers webhooks over HTTPS (ports 443, 80, 88 or 8443)")
    secret = webhook_secret(settings)
    try:
        make_api(settings).set_webhook(args.url, secret, ALLOWED_UPDATES, drop_pending_updates=args.drop_pending)
    except (TelegramApiError, TelegramUnavailable) as exc:
        raise OperatorError(f"setWebhook failed: {exc}") from None
    print(f"webhook set: {args.url} (updates: {', '.join(ALLOWED_UPDATES)})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Report which settings are present, who the bot is, and how webhook delivery is going."""
    settings = get_settings()
    for name in ("telegram_token", "telegram_webhook_secret"):
        print(f"{name.upper():26} {'set' if getattr(settings, name) else 'MISSING'}")
    api = make_api(settings)
    try:
        me, info = api.get_me(), api.get_webhook_info()
    except (TelegramApiError, TelegramUnavailable) as exc:
        raise OperatorError(f"Telegram API: {exc}") from None
    print(f"{'bot':26} @{me.get('username')} (id {me.get('id')})")
    print(f"{'webhook':26} {info.get('url') or 'NOT SET (run gridbot telegram set-webhook URL)'}")
    print(f"{'pending updates':26} {info.get('pending_update_count', 0)}")
    print(f"{'allowed updates':26} {', '.join(info.get('allowed_updates') or ['(Telegram default)'])}")
    if info.get("last_error_message"):
        print(f"{'last delivery error':26} {info['last_error_message']}")
    return 0
