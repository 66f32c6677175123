"""Storing media users send, whichever platform it came from: fetched with retries, written atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


class NotDownloadable(Exception):
    """The platform will never give these bytes (refused, expired, too big): trying again is pointless."""


def save_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file, so a reader never sees half a photo."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)


def download(fetch: Callable[[], bytes], target: Path, *, transient: type[Exception] | tuple[type[Exception], ...],
             label: str, attempts: int = 3, pause: float = 0.5,
             sleep: Callable[[float], None] = time.sleep) -> bool:
    """Store what ``fetch`` returns at ``target``; True when stored.

    ``transient`` errors (timeouts, 5xx) are retried after a growing pause, up to ``attempts`` calls;
    NotDownloadable ends at once. Run after the webhook answered: nothing here is on a user's clock.
    """
    for attempt in range(1, attempts + 1):
        try:
            data = fetch()
        except transient:
            if attempt < attempts:
                sleep(pause * attempt)
            continue
        except NotDownloadable as exc:
            logger.warning("%s not downloadable: %s", label, exc)
            return False
        save_atomically(target, data)
        return True
    logger.warning("%s unavailable after %s attempts", label, attempts)
    return False
