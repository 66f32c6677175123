"""What the channel routers share: the channel the lifespan built, a bounded body, telling events from messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from bot.messages import Inbound, InboundKind
from core.services.people import mark_unreachable


def configured_channel(attribute: str, label: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving the channel stored on the app state as ``attribute``; 503 when it is not configured."""

    async def channel(request: Request) -> Any:
        found = getattr(request.app.state.gridbot, attribute)
        if found is None:
            raise HTTPException(503, f"{label} is not configured")
        return found

    return channel


def is_system_event(inbound: Inbound) -> bool:
    """An update nobody reads a reply to (the adapters mark them ``event:…``)."""
    return inbound.kind is InboundKind.UNSUPPORTED and (inbound.payload or "").startswith("event:")


def note_departure(session: Session, inbound: Inbound) -> None:
    """An unfollow (WeChat) or a block (Telegram): notices skip the account until its owner writes again."""
    if inbound.kind is InboundKind.UNSUBSCRIBE:
        mark_unreachable(session, str(inbound.platform), inbound.user_key, datetime.now(UTC))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (400) anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(400, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(400, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)
