"""``GET/POST /wechat``: verify → parse → dedupe → run the turn within the budget → passive reply or ``success``.

Exactly once: the first request for a message key claims ``dedupe:wechat:<key>`` in the shared store before
any work; WeChat's retries (same MsgId, or FromUserName+CreateTime+Event) wait briefly for the reply cached
under that key and otherwise answer ``success``. The inbound row's unique key is the second line of defence.
A turn that overruns ``turn_budget_seconds`` is answered ``success`` and its replies go to the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Protocol, cast

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.adapters.wechat_adapter import (
    MAX_BODY_BYTES,
    BadSignature,
    MalformedMessage,
    MessageCrypto,
    custom_text,
    is_periodic_location,
    parse_xml,
    passive_xml,
    render_texts,
    sign,
    signature_ok,
    to_inbound,
)
from bot.adapters.wechat_api import WeChatApi, WeChatSender, fetch_media, media_path
from bot.adapters.wechat_window import ServiceWindows
from bot.engine import Engine, NotRecorded
from bot.messages import Inbound, InboundKind, Reply
from bot.outbox import OutboxWorker, Sender, enqueue
from core.db import SessionFactory, unit_of_work
from core.models import InboundMessage
from core.settings import Settings
from core.store import StateStore
from webhooks.deps import configured_channel, is_system_event, note_departure, read_body
from webhooks.metrics import Metrics
from webhooks.outbox_setup import build_outbox

logger = logging.getLogger(__name__)

SUCCESS = "success"
PENDING = "pending"
MAX_CLOCK_SKEW = 300.0   # seconds; WeChat's retries come within ~15 s, so older requests are replays
RETRY_WAIT = 3.0         # how long a retry waits for the first request's reply before answering success
NO_TURN = frozenset({InboundKind.UNSUBSCRIBE, InboundKind.VIEW})  # nobody to answer: record only
# Turns in flight at once. Each holds the GIL for most of its ~2-5 ms, so on a few cores a handful of threads
# keep the database and Redis busy while more only queue for the GIL and the pool (measured: bench/wechat_load.py).
TURN_THREADS = 8
INSERT_INBOUND = insert(cast(Table, InboundMessage.__table__))


class TurnEngine(Protocol):
    """Runs one conversational turn (``bot.engine.Engine``)."""

    def handle(self, inbound: Inbound) -> list[Reply]:
        """The replies to one inbound message."""


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A retry of a message another request claimed: answer with what it caches under ``key``."""

    key: str


@dataclass(frozen=True, slots=True)
class Signed:
    """Query parameters of a request whose ``signature`` checked out."""

    timestamp: str
    nonce: str
    encrypted: bool
    msg_signature: str | None


class Handoff:
    """Decides, race-free, whether a finished turn answers the request or goes to the outbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "running"

    def _move(self, to: str) -> bool:
        with self._lock:
            if self._state != "running":
                return False
            self._state = to
            return True

    def finish(self) -> bool:
        """Called by the turn: True when the request is still waiting for the reply."""
        return self._move("finished")

    def abandon(self) -> bool:
        """Called by the request at the budget: True when the turn has not finished yet."""
        return self._move("abandoned")


@dataclass
class WeChatChannel:
    """Everything the endpoint needs, built once by the lifespan."""

    settings: Settings
    store: StateStore
    session_factory: SessionFactory
    engine: TurnEngine
    metrics: Metrics
    api: WeChatApi | None = None
    outbox: OutboxWorker | None = None
    clock: Callable[[], float] = time.time
    crypto: MessageCrypto | None = None
    limiter: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(TURN_THREADS))
    windows: ServiceWindows = field(init=False)  # the 客服 windows our users' interactions open
    _tasks: set[asyncio.Future[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.windows = ServiceWindows(self.store, clock=self.clock)
        aes = self.settings.wechat_aes_key
        if self.crypto is None and aes is not None and self.settings.wechat_app_id:
            self.crypto = MessageCrypto(self.token, aes.get_secret_value(), self.settings.wechat_app_id)

    @property
    def token(self) -> str:
        """The server token configured in the 公众号 console."""
        secret = self.settings.wechat_token
        return secret.get_secret_value() if secret else ""

    def fresh(self, timestamp: str) -> bool:
        """True when ``timestamp`` is within MAX_CLOCK_SKEW of now."""
        return timestamp.isdigit() and abs(self.clock() - int(timestamp)) <= MAX_CLOCK_SKEW

    def decode(self, body: bytes, signed: Signed) -> dict[str, Any]:
        """The plaintext message fields; decrypts (checking ``msg_signature``) in the AES modes."""
        fields = parse_xml(body)
        if not signed.encrypted:
            return fields
        if self.crypto is None:
            raise MalformedMessage("encrypted message but no EncodingAESKey configured")
        plain = self.crypto.decrypt_envelope(fields, signed.msg_signature, signed.timestamp, signed.nonce)
        return parse_xml(plain.encode())

    def seal(self, xml: str, signed: Signed) -> str:
        """The reply as sent: encrypted in the AES modes, except the bare ``success``."""
        if xml == SUCCESS or not signed.encrypted or self.crypto is None:
            return xml
        return self.crypto.encrypt_reply(xml, signed.timestamp, signed.nonce)

    async def respond(self, body: bytes, signed: Signed) -> str:
        """The reply as sent (sealed), or ``success``, for one request body; runs the turn at most once.

        All of a request's blocking work (decode, dedupe, record, turn, seal) is one hop to a worker thread,
        and at most ``limiter.total_tokens`` (TURN_THREADS) run at once; the rest wait in the event loop.
        """
        handoff = Handoff()
        task = asyncio.ensure_future(to_thread.run_sync(self._receive, body, signed, handoff,
                                                        asyncio.get_running_loop(), limiter=self.limiter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            async with asyncio.timeout(self.settings.turn_budget_seconds):
                reply = await asyncio.shield(task)
        except TimeoutError:
            reply = SUCCESS if handoff.abandon() else await task
        if isinstance(reply, Duplicate):
            return self.seal(await self._await_cached(reply.key), signed)
        return reply

    async def _await_cached(self, key: str) -> str:
        """The reply the first request cached, if it appears within RETRY_WAIT; else ``success``."""
        deadline = time.monotonic() + RETRY_WAIT
        while time.monotonic() < deadline:
            cached = self.store.get(key)
            if cached is not None and cached != PENDING:
                return cached
            await asyncio.sleep(0.05)
        return SUCCESS

    def _receive(self, body: bytes, signed: Signed, handoff: Handoff,
                 loop: asyncio.AbstractEventLoop) -> str | Duplicate:
        """Decode, claim the dedupe key, run the turn and seal the reply (worker thread)."""
        fields = self.decode(body, signed)
        inbound = to_inbound(fields)
        key = f"dedupe:wechat:{inbound.message_id}"
        if not self.store.set_if_absent(key, PENDING, self.settings.dedupe_ttl_seconds):
            self.metrics.dedupe_hits.labels("wechat").inc()
            self._count(inbound, "duplicate")
            return Duplicate(key)
        self.windows.interacted(inbound)  # what 客服 messages WeChat now allows us to send this user
        inbound = self._attach_media(inbound, loop)
        return self.seal(self._turn(inbound, str(fields.get("ToUserName", "")), key, handoff), signed)

    def _attach_media(self, inbound: Inbound, loop: asyncio.AbstractEventLoop) -> Inbound:
        """For a photo: start fetching it now, and hand the engine the path it will have."""
        if inbound.kind is not InboundKind.IMAGE or not inbound.media_ref:
            return inbound
        target = media_path(self.settings.media_dir, inbound.media_ref)
        if self.api is not None:
            loop.call_soon_threadsafe(self._fetch, inbound.media_ref, target)
        relative = str(target.relative_to(self.settings.media_dir))
        return Inbound(inbound.platform, inbound.user_key, inbound.chat_key, inbound.message_id, inbound.kind,
                       media_ref=relative)

    def _fetch(self, media_ref: str, target: Path) -> None:
        """Download a photo in the background (event loop; the download itself runs in a thread)."""
        assert self.api is not None
        task = asyncio.ensure_future(to_thread.run_sync(fetch_media, self.api, media_ref, target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _turn(self, inbound: Inbound, account: str, key: str, handoff: Handoff) -> str:
        """Record the message, run the turn, and render the reply or defer it to the outbox (worker thread)."""
        try:
            replies = self._run(inbound)
        except Exception:
            self.store.delete(key)  # nothing ran: let WeChat's retry try again instead of answering "success"
            raise
        if replies is None:
            self._count(inbound, "duplicate")
            return SUCCESS
        if not wants_turn(inbound):
            self._remember(inbound)
            self._cache(key, SUCCESS)
            return SUCCESS
        texts = [t for t in render_texts(replies) if t]
        if handoff.finish():
            xml = passive_xml(texts[0], to_user=inbound.user_key, from_account=account) if texts else SUCCESS
            self._defer(inbound, texts[1:], first=1)
            self._count(inbound, "replied")
        else:
            xml = SUCCESS
            self._defer(inbound, texts, first=0)
            self._count(inbound, "deferred")
        self._cache(key, xml)
        return xml

    def _run(self, inbound: Inbound) -> list[Reply] | None:
        """Record the message and run its turn, in one commit when the engine takes the record; None for a
        message already recorded (its store key expired), [] for one that needs no turn."""
        if not wants_turn(inbound):
            return [] if self._record(inbound) else None
        started = time.perf_counter()
        if isinstance(self.engine, Engine):  # ours writes the row in the turn's unit of work: one commit
            try:
                replies = self.engine.handle(inbound, record=partial(_add_inbound, inbound=inbound))
            except NotRecorded as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    return None
                raise
        elif self._record(inbound):
            replies = self.engine.handle(inbound)
        else:
            return None
        self.metrics.turn_seconds.labels("wechat").observe(time.perf_counter() - started)
        return replies

    def _record(self, inbound: Inbound) -> bool:
        """Store the inbound row on its own; False when this message was already recorded."""
        try:
            with unit_of_work(self.session_factory) as session:
                _add_inbound(session, inbound)
                note_departure(session, inbound)
        except IntegrityError:
            return False
        return True

    def _remember(self, inbound: Inbound) -> None:
        """Note a message that needs no turn; keep a reported location for later flows."""
        self._count(inbound, "recorded")
        if inbound.kind is InboundKind.UNSUPPORTED:
            logger.info("wechat %s ignored", inbound.payload, extra={"platform": "wechat"})
        if inbound.location is not None:
            point = {"lat": inbound.location.lat, "lon": inbound.location.lon}
            self.store.set_json(f"location:wechat:{inbound.user_key}", point, self.settings.session_ttl_seconds)

    def _defer(self, inbound: Inbound, texts: list[str], *, first: int) -> None:
        """Queue replies for the 客服 API (idempotent per message and position)."""
        if not texts:
            return
        with unit_of_work(self.session_factory) as session:
            for index, text in enumerate(texts, start=first):
                enqueue(session, f"wechat:reply:{inbound.message_id}:{index}", "wechat", inbound.user_key,
                        "custom", {"body": custom_text(inbound.user_key, text)})
        if self.outbox is not None:
            self.outbox.notify()

    def _cache(self, key: str, xml: str) -> None:
        """Keep the rendered reply under the dedupe key so a retry gets the same answer."""
        self.store.set(key, xml, self.settings.dedupe_ttl_seconds)

    def _count(self, inbound: Inbound, outcome: str) -> None:
        self.metrics.messages.labels("wechat", str(inbound.kind), outcome).inc()


def _add_inbound(session: Session, inbound: Inbound) -> None:
    """The inbound row: the record that this message arrived, kept once (its unique key refuses a second).

    A prepared Core INSERT on the session's connection, not ``session.add``: the row is never read back, and
    the ORM's flush (or building an ORM insert) cost several times the statement itself on every message.
    """
    session.connection().execute(INSERT_INBOUND, {
        "platform": "wechat", "message_id": inbound.message_id[:128], "user_key": inbound.user_key,
        "kind": str(inbound.kind), "received_at": datetime.now(UTC), "outcome": "accepted"})


def wants_turn(inbound: Inbound) -> bool:
    """False for what nobody reads a reply to: unfollows, link opens, periodic locations, system events."""
    if inbound.kind in NO_TURN or is_periodic_location(inbound):
        return False
    return not is_system_event(inbound)


ChannelDep = Annotated[WeChatChannel, Depends(configured_channel("wechat", "WeChat"))]


async def verified(request: Request, channel: ChannelDep) -> Signed:
    """Refuse (403) a request whose signature is wrong or whose timestamp is stale.

    The query is read directly: declared as five parameters, FastAPI's validation of them cost more than the
    signature check itself on every message.
    """
    query = request.query_params
    signature, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
    encrypt_type, msg_signature = query.get("encrypt_type", ""), query.get("msg_signature")
    if not channel.token or not channel.fresh(timestamp):
        raise HTTPException(403, "stale or unsigned request")
    if not signature_ok(sign(channel.token, timestamp, nonce), signature):
        raise HTTPException(403, "bad signature")
    return Signed(timestamp, nonce, encrypt_type.lower() == "aes", msg_signature)


SignedDep = Annotated[Signed, Depends(verified)]
router = APIRouter()


@router.get("/wechat")
async def verify_url(signed: SignedDep, echostr: Annotated[str, Query()] = "") -> PlainTextResponse:
    """URL verification: echo ``echostr`` unchanged."""
    return PlainTextResponse(echostr)


@router.post("/wechat")
async def receive(request: Request, signed: SignedDep, channel: ChannelDep) -> Response:
    """One message or event: 403 forged, 400 malformed, else the passive reply or ``success``."""
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        xml = await channel.respond(body, signed)
    except BadSignature:
        raise HTTPException(403, "bad message signature") from None
    except MalformedMessage:
        raise HTTPException(400, "malformed message") from None
    if xml == SUCCESS:
        return PlainTextResponse(SUCCESS)
    return Response(xml, media_type="application/xml")


def wechat_api(settings: Settings, store: StateStore) -> WeChatApi | None:
    """The API client when a server token and the app credentials are configured."""
    if settings.wechat_token is None or not (settings.wechat_app_id and settings.wechat_app_secret):
        return None
    return WeChatApi(settings.wechat_api_base, settings.wechat_app_id,
                     settings.wechat_app_secret.get_secret_value(), store)


def build_wechat(settings: Settings, session_factory: SessionFactory, store: StateStore, metrics: Metrics,
                 engine: TurnEngine, **worker_options: Any) -> tuple[WeChatChannel | None, OutboxWorker | None]:
    """WeChat alone (tests, bench): the channel when a server token is configured, and an outbox worker for it.

    The app builds every channel around one shared worker instead (``webhooks.app.build_channels``).
    """
    if settings.wechat_token is None:
        return None, None
    api = wechat_api(settings, store)
    senders: dict[str, Sender] = {"wechat": WeChatSender(api, ServiceWindows(store))} if api else {}
    outbox = build_outbox(settings, session_factory, metrics, senders, **worker_options)
    channel = WeChatChannel(settings, store, session_factory, engine, metrics, api=api, outbox=outbox)
    return channel, outbox
