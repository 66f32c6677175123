"""What the channel routers share: finding the channel the lifespan built, and telling events from messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request

from bot.messages import Inbound, InboundKind


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
