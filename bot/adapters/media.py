"""Storing media users send, whichever platform it came from."""

from __future__ import annotations

from pathlib import Path


def save_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file, so a reader never sees half a photo."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
