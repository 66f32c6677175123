"""``POST /telegram``: check the secret → parse → dedupe → record → run the turn within the budget → 200.

Replies go through the outbox, not the webhook response body. Telegram would execute one method put in the
response, but only one, unconfirmed and lost if the connection drops; the outbox handles any number of
replies, retries them (429 ``retry_after`` included) and survives restarts — the same path as WeChat's
deferred replies and every staff notice. The request still waits for the turn (within
``turn_budget_seconds``): Telegram sends a chat's next update only after we answer, which keeps one user's
turns in order; a turn over budget is answered 200 and finishes in the background.

Exactly once: ``dedupe:telegram:<update_id>`` is claimed in the shared store before any work, and the
``inbound_message`` row (unique platform + update id) is the second line of defence.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from bot.adapters.telegram_adapter import CallbackRef, MalformedUpdate, parse_update, reply_payload
from bot.adapters.telegram_api import (
    TelegramApi,
    TelegramApiError,
    TelegramUnavailable,
    fetch_file,
    media_path,
)
from bot.messages import Inbound, InboundKind, Reply
from bot.outbox import OutboxWorker, enqueue
from core.db import SessionFactory, unit_of_work
from core.models import InboundMessage
from core.settings import Settings
from core.store import StateStore
from webhooks.deps import configured_channel, is_system_event, note_departure, read_body
from webhooks.metrics import Metrics
from webhooks.wechat import TurnEngine

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # an update is a few KiB; 4096-char texts with entities stay far below this
DEDUPE_TTL = 24 * 3600       # Telegram keeps undelivered updates for at most 24 h (PLATFORMS.md §2.2)
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
PLATFORM = "telegram"


@dataclass
class TelegramChannel:
    """Everything the endpoint needs, built once by the lifespan."""

    settings: Settings
    store: StateStore
    session_factory: SessionFactory
    engine: TurnEngine
    metrics: Metrics
    api: TelegramApi | None = None
    outbox: OutboxWorker | None = None
    _tasks: set[asyncio.Future[Any]] = field(default_factory=set)

    def secret_ok(self, given: str | None) -> bool:
        """Constant-time check of the ``X-Telegram-Bot-Api-Secret-Token`` header; no secret set refuses all."""
        secret = self.settings.telegram_webhook_secret
        if secret is None or given is None:
            return False
        return hmac.compare_digest(secret.get_secret_value().encode(), given.encode())

    async def receive(self, body: bytes, background: BackgroundTasks) -> None:
        """Handle one update; bad input is logged, never raised (Telegram would retry it for a day)."""
        try:
            parsed = parse_update(body)
        except MalformedUpdate as exc:
            logger.warning("telegram update ignored: %s", exc, extra={"platform": PLATFORM})
            self.metrics.messages.labels(PLATFORM, "malformed", "ignored").inc()
            return
        if parsed.inbound is None:
            logger.info("telegram update %s has no sender; ignored", parsed.update_id, extra={"platform": PLATFORM})
            return
        key = f"dedupe:telegram:{parsed.update_id}"
        if not self.store.set_if_absent(key, "1", DEDUPE_TTL):
            self.metrics.dedupe_hits.labels(PLATFORM).inc()
            self._count(parsed.inbound, "duplicate")
            return
        work = [self._spawn(self._acknowledge, parsed.callback)] if parsed.callback else []
        work.append(self._spawn(self._turn, self._attach_media(parsed.inbound, background), key))
        await self._within_budget(work)

    def _spawn(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        """Run ``fn`` in the thread pool, keeping a reference so it outlives an abandoned request."""
        task = asyncio.ensure_future(run_in_threadpool(fn, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _within_budget(self, work: list[asyncio.Future[Any]]) -> None:
        """Wait for the work up to the turn budget; past it, answer anyway and let it finish."""
        try:
            async with asyncio.timeout(self.settings.turn_budget_seconds):
                await asyncio.shield(asyncio.gather(*work))
        except TimeoutError:
            logger.info("telegram turn over budget; its replies follow through the outbox")

    def _acknowledge(self, callback: CallbackRef) -> None:
        """Answer the button press at once and remove its keyboard so the choice cannot be made twice."""
        if self.api is None:
            return
        try:
            self.api.answer_callback_query(callback.query_id)
        except (TelegramApiError, TelegramUnavailable) as exc:  # "query is too old": nothing left to do
            logger.warning("answerCallbackQuery failed: %s", type(exc).__name__)
        if callback.message_id is None and callback.inline_message_id is None:
            return
        try:
            self.api.remove_keyboard(chat_id=callback.chat_id, message_id=callback.message_id,
                                     inline_message_id=callback.inline_message_id)
        except (TelegramApiError, TelegramUnavailable) as exc:
            logger.warning("editMessageReplyMarkup failed: %s", type(exc).__name__)

    def _attach_media(self, inbound: Inbound, background: BackgroundTasks) -> Inbound:
        """For a photo: fetch it after the response, and hand the engine the path it will have."""
        if inbound.kind is not InboundKind.IMAGE or not inbound.media_ref:
            return inbound
        target = media_path(self.settings.media_dir, inbound.media_ref)
        if self.api is not None:
            background.add_task(fetch_file, self.api, inbound.media_ref, target)
        return replace(inbound, media_ref=str(target.relative_to(self.settings.media_dir)))

    def _turn(self, inbound: Inbound, key: str) -> None:
        """Record the update, run the turn and queue its replies (worker thread)."""
        try:
            recorded = self._record(inbound)
        except Exception:
            self.store.delete(key)  # nothing ran: Telegram's retry of the 500 may try again
            raise
        if not recorded:
            self._count(inbound, "duplicate")
            return
        if not wants_turn(inbound):
            self._count(inbound, "recorded")
            return
        started = time.perf_counter()
        replies = self.engine.handle(inbound)
        self.metrics.turn_seconds.labels(PLATFORM).observe(time.perf_counter() - started)
        self._enqueue(inbound, replies)
        self._count(inbound, "replied")

    def _record(self, inbound: Inbound) -> bool:
        """Store the inbound row; False when this update was already recorded (store key expired)."""
        try:
            with unit_of_work(self.session_factory) as session:
                session.add(InboundMessage(platform=PLATFORM, message_id=inbound.message_id,
                                           user_key=inbound.user_key, kind=str(inbound.kind),
                                           received_at=datetime.now(UTC), outcome="accepted"))
                note_departure(session, inbound)
        except IntegrityError:
            return False
        return True

    def _enqueue(self, inbound: Inbound, replies: list[Reply]) -> None:
        """Queue the replies for sendMessage (idempotent per update and position) and wake the worker."""
        with unit_of_work(self.session_factory) as session:
            for index, reply in enumerate(replies):
                enqueue(session, f"telegram:reply:{inbound.message_id}:{index}", PLATFORM, inbound.chat_key,
                        "text", reply_payload(reply))
        if self.outbox is not None:
            self.outbox.notify()

    def _count(self, inbound: Inbound, outcome: str) -> None:
        self.metrics.messages.labels(PLATFORM, str(inbound.kind), outcome).inc()


def wants_turn(inbound: Inbound) -> bool:
    """False for what nobody reads a reply to: blocks, edits, group messages and other non-message updates."""
    if inbound.kind is InboundKind.UNSUBSCRIBE:
        return False
    return not is_system_event(inbound)


ChannelDep = Annotated[TelegramChannel, Depends(configured_channel("telegram", "Telegram"))]


async def authorised(channel: ChannelDep,
                     x_telegram_bot_api_secret_token: Annotated[str | None, Header()] = None) -> TelegramChannel:
    """Refuse (403) a request without the webhook's secret header."""
    if not channel.secret_ok(x_telegram_bot_api_secret_token):
        raise HTTPException(403, "bad secret token")
    return channel


router = APIRouter()


@router.post("/telegram")
async def receive(request: Request, channel: Annotated[TelegramChannel, Depends(authorised)],
                  background: BackgroundTasks) -> Response:
    """One update: 403 without the secret, 400 when oversized, else 200 (even for updates we cannot read)."""
    await channel.receive(await read_body(request, MAX_BODY_BYTES), background)
    return Response(status_code=200)


def telegram_api(settings: Settings) -> TelegramApi | None:
    """The Bot API client when a bot token is configured."""
    if settings.telegram_token is None:
        return None
    return TelegramApi(settings.telegram_api_base, settings.telegram_token.get_secret_value())


def build_telegram(settings: Settings, session_factory: SessionFactory, store: StateStore, metrics: Metrics,
                   engine: TurnEngine, *, api: TelegramApi | None,
                   outbox: OutboxWorker | None) -> TelegramChannel | None:
    """The channel when a bot token is configured (without a webhook secret every update gets 403)."""
    if api is None:
        return None
    if settings.telegram_webhook_secret is None:
        logger.warning("GRIDBOT_TELEGRAM_WEBHOOK_SECRET is not set: /telegram refuses every update")
    return TelegramChannel(settings, store, session_factory, engine, metrics, api=api, outbox=outbox)
