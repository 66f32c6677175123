"""The FastAPI application: ``create_app(settings)`` and the lifespan that owns engine, store and services."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.engine import Engine

from bot.adapters.telegram_api import TelegramSender
from bot.adapters.wechat_api import WeChatSender
from bot.adapters.wechat_window import ServiceWindows
from bot.deps import build_deps, warm_up
from bot.engine import Engine as BotEngine
from bot.outbox import OutboxWorker, Sender
from core.db import SessionFactory, make_engine, make_session_factory, ping, upgrade
from core.errors import ServiceUnavailable
from core.settings import Settings
from core.store import StateStore, make_store
from webhooks.metrics import Metrics
from webhooks.outbox_setup import build_outbox
from webhooks.scheduler import build_scheduler
from webhooks.telegram import TelegramChannel, build_telegram, telegram_api
from webhooks.telegram import router as telegram_router
from webhooks.wechat import TurnEngine, WeChatChannel, wechat_api
from webhooks.wechat import router as wechat_router

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    """Long-lived objects built once by the lifespan and shared by every request."""

    settings: Settings
    engine: Engine
    session_factory: SessionFactory
    store: StateStore
    metrics: Metrics
    started_at: float
    wechat: WeChatChannel | None = None
    telegram: TelegramChannel | None = None
    outbox: OutboxWorker | None = None
    scheduler: BackgroundScheduler | None = None


def build_state(settings: Settings) -> AppState:
    """Connect to the database and the store (migrating an embedded SQLite database by itself)."""
    engine = make_engine(settings.database_url)
    if settings.is_embedded_db:
        upgrade(engine)
    else:
        ping(engine)
    store = make_store(settings.redis_url)
    store.ping()
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    state = AppState(settings, engine, make_session_factory(engine), store, Metrics(), time.monotonic())
    deps = build_deps(settings, state.session_factory, store)
    warm_up(deps)
    bot = BotEngine(deps)
    build_channels(state, bot)
    if settings.run_scheduler:
        state.scheduler = build_scheduler(settings, state.session_factory, store)
    return state


def build_channels(state: AppState, bot: TurnEngine, **worker_options: Any) -> None:
    """Every configured channel, sharing one outbox worker that holds the sender of each platform able to send."""
    settings, factory, store, metrics = state.settings, state.session_factory, state.store, state.metrics
    wechat, telegram = wechat_api(settings, store), telegram_api(settings)
    senders: dict[str, Sender] = {}
    if wechat is not None:
        senders["wechat"] = WeChatSender(wechat, ServiceWindows(store))
    if telegram is not None:
        senders["telegram"] = TelegramSender(telegram)
    state.outbox = build_outbox(settings, factory, metrics, senders, **worker_options)
    if settings.wechat_token is not None:
        state.wechat = WeChatChannel(settings, store, factory, bot, metrics, api=wechat, outbox=state.outbox)
    state.telegram = build_telegram(settings, factory, store, metrics, bot, api=telegram, outbox=state.outbox)


def create_app(settings: Settings, state: AppState | None = None) -> FastAPI:
    """Build the web app; ``state`` may be handed in by tests that own the engine and store."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.gridbot = state or build_state(settings)
        logger.info("gridbot ready in %.2fs", time.monotonic() - app.state.gridbot.started_at)
        st: AppState = app.state.gridbot
        for service in (st.outbox, st.scheduler):
            if service is not None:
                service.start()
        try:
            yield
        finally:
            if st.scheduler is not None:
                st.scheduler.shutdown(wait=False)
            if st.outbox is not None:
                st.outbox.stop()
            if state is None:
                app.state.gridbot.store.close()
                app.state.gridbot.engine.dispose()

    app = FastAPI(title="gridbot", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/readyz", readyz, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.include_router(wechat_router)
    app.include_router(telegram_router)
    return app


async def healthz() -> PlainTextResponse:
    """Alive: the process answers."""
    return PlainTextResponse("ok")


def readyz(request: Request) -> JSONResponse:
    """Ready: the database and the state store answer (a plain def: FastAPI runs it off the event loop)."""
    st: AppState = request.app.state.gridbot
    probes: tuple[tuple[str, Callable[[], None]], ...] = (("database", partial(ping, st.engine)),
                                                          ("store", st.store.ping))
    checks: dict[str, str] = {}
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except ServiceUnavailable as exc:
            checks[name] = str(exc)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    st: AppState = request.app.state.gridbot
    body, content_type = st.metrics.render()
    return Response(body, media_type=content_type)
