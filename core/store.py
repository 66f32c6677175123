"""The state store: conversation sessions, dedupe keys, counters and locks — on Redis or in-process.

One contract (``StateStore``) with two implementations; the same tests run on both.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast
from urllib.parse import urlsplit, urlunsplit

import redis

from core.errors import ServiceUnavailable


class StateStore(Protocol):
    """Short-lived shared state. Keys are plain strings; every write takes a TTL in seconds."""

    def get_json(self, key: str) -> dict[str, Any] | None:
        """The JSON object stored at ``key``, or None when absent or expired."""

    def set_json(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Store a JSON object at ``key`` for ``ttl`` seconds."""

    def get(self, key: str) -> str | None:
        """The string stored at ``key``, or None."""

    def set(self, key: str, value: str, ttl: float) -> None:
        """Store a string at ``key`` for ``ttl`` seconds."""

    def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent; True when this call stored it (dedupe)."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add to a counter and return the new value; ``ttl`` is set when the counter is created."""

    def acquire_lock(self, name: str, ttl: float) -> str | None:
        """Take the lock ``name`` for ``ttl`` seconds; a token on success, None when someone holds it."""

    def release_lock(self, name: str, token: str) -> bool:
        """Release the lock if ``token`` still owns it; False when it expired or another holds it."""

    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Extend a lock this token still owns (leader election heartbeats)."""

    def ping(self) -> None:
        """Raise ServiceUnavailable when the store cannot be reached."""

    def close(self) -> None:
        """Release connections."""


@contextmanager
def held_lock(store: StateStore, name: str, ttl: float) -> Iterator[bool]:
    """Hold ``name`` for the block when it can be had; yields whether it was acquired."""
    token = store.acquire_lock(name, ttl)
    try:
        yield token is not None
    finally:
        if token is not None:
            store.release_lock(name, token)


def _ttl_ms(ttl: float) -> int:
    """A TTL in whole milliseconds (at least 1); refuses zero or negative TTLs like Redis does."""
    if ttl <= 0:
        raise ValueError(f"ttl must be positive, got {ttl!r}")
    return max(1, round(ttl * 1000))


def _dumps(value: dict[str, Any]) -> str:
    """Serialise a JSON object compactly, keeping Chinese readable in redis-cli."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _lock_key(name: str) -> str:
    """The key a lock lives under (same in both stores)."""
    return f"lock:{name}"


class MemoryStore:
    """In-process store for one worker: the embedded default and the reference for the Redis one."""

    def __init__(self, *, sweep_interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._next_sweep = clock() + sweep_interval

    def _live(self, key: str, now: float) -> str | None:
        """The value at ``key`` if unexpired, evicting it lazily otherwise; call with the lock held."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry[0]

    def _put(self, key: str, value: str, deadline: float | None, now: float) -> None:
        """Write an entry and now and then drop every expired one; call with the lock held."""
        self._data[key] = (value, deadline)
        if now >= self._next_sweep:
            # Keys nobody reads again are never lazily evicted; without this the dict only grows.
            self._data = {k: e for k, e in self._data.items() if e[1] is None or e[1] > now}
            self._next_sweep = now + self._sweep_interval

    def get_json(self, key: str) -> dict[str, Any] | None:
        """The JSON object stored at ``key``, or None when absent or expired."""
        raw = self.get(key)
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    def set_json(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Store a JSON object at ``key`` for ``ttl`` seconds."""
        self.set(key, _dumps(value), ttl)

    def get(self, key: str) -> str | None:
        """The string stored at ``key``, or None."""
        with self._lock:
            return self._live(key, self._clock())

    def set(self, key: str, value: str, ttl: float) -> None:
        """Store a string at ``key`` for ``ttl`` seconds."""
        ms = _ttl_ms(ttl)
        with self._lock:
            now = self._clock()
            self._put(key, value, now + ms / 1000, now)

    def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent; True when this call stored it (dedupe)."""
        ms = _ttl_ms(ttl)
        with self._lock:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            self._put(key, value, now + ms / 1000, now)
            return True

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add to a counter and return the new value; ``ttl`` is set when the counter is created."""
        ms = None if ttl is None else _ttl_ms(ttl)
        with self._lock:
            now = self._clock()
            current = self._live(key, now)
            if current is None:
                deadline = None if ms is None else now + ms / 1000
                value = amount
            else:
                deadline = self._data[key][1]  # like INCRBY: an existing expiry is kept as it is
                value = int(current) + amount
            self._put(key, str(value), deadline, now)
            return value

    def acquire_lock(self, name: str, ttl: float) -> str | None:
        """Take the lock ``name`` for ``ttl`` seconds; a token on success, None when someone holds it."""
        token = secrets.token_hex(16)
        return token if self.set_if_absent(_lock_key(name), token, ttl) else None

    def release_lock(self, name: str, token: str) -> bool:
        """Release the lock if ``token`` still owns it; False when it expired or another holds it."""
        key = _lock_key(name)
        with self._lock:
            if self._live(key, self._clock()) != token:
                return False
            del self._data[key]
            return True

    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Extend a lock this token still owns (leader election heartbeats)."""
        ms = _ttl_ms(ttl)
        key = _lock_key(name)
        with self._lock:
            now = self._clock()
            if self._live(key, now) != token:
                return False
            self._put(key, token, now + ms / 1000, now)
            return True

    def ping(self) -> None:
        """Always reachable: it lives in this process."""

    def close(self) -> None:
        """Drop everything held."""
        with self._lock:
            self._data.clear()


# Compare-and-act scripts: the GET and the DEL/PEXPIRE must be one atomic step, or a lock that expired
# and was taken by someone else in between would be released or extended by its previous owner.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# INCRBY keeps an existing TTL; the expiry is set only when this call created the key.
_INCR_LUA = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to log and print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisStore:
    """Shared store on Redis; every key is namespaced by ``prefix``."""

    def __init__(
        self, url: str, *, prefix: str = "gridbot:", socket_timeout: float = 2.0, max_connections: int = 50
    ) -> None:
        self._url = url
        self._prefix = prefix
        # from_url builds a bounded pool the client owns, so close() also disconnects it.
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=30,
            max_connections=max_connections,
        )
        self._release = self._redis.register_script(_RELEASE_LUA)
        self._extend = self._redis.register_script(_EXTEND_LUA)
        self._incr = self._redis.register_script(_INCR_LUA)

    def _k(self, key: str) -> str:
        """The namespaced Redis key."""
        return self._prefix + key

    def get_json(self, key: str) -> dict[str, Any] | None:
        """The JSON object stored at ``key``, or None when absent or expired."""
        raw = self.get(key)
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    def set_json(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Store a JSON object at ``key`` for ``ttl`` seconds."""
        self.set(key, _dumps(value), ttl)

    def get(self, key: str) -> str | None:
        """The string stored at ``key``, or None."""
        return cast(str | None, self._redis.get(self._k(key)))

    def set(self, key: str, value: str, ttl: float) -> None:
        """Store a string at ``key`` for ``ttl`` seconds."""
        self._redis.set(self._k(key), value, px=_ttl_ms(ttl))

    def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent; True when this call stored it (dedupe)."""
        return bool(self._redis.set(self._k(key), value, px=_ttl_ms(ttl), nx=True))

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        self._redis.delete(self._k(key))

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add to a counter and return the new value; ``ttl`` is set when the counter is created."""
        ms = 0 if ttl is None else _ttl_ms(ttl)
        return int(self._incr(keys=[self._k(key)], args=[amount, ms]))

    def acquire_lock(self, name: str, ttl: float) -> str | None:
        """Take the lock ``name`` for ``ttl`` seconds; a token on success, None when someone holds it."""
        token = secrets.token_hex(16)
        return token if self.set_if_absent(_lock_key(name), token, ttl) else None

    def release_lock(self, name: str, token: str) -> bool:
        """Release the lock if ``token`` still owns it; False when it expired or another holds it."""
        return bool(self._release(keys=[self._k(_lock_key(name))], args=[token]))

    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Extend a lock this token still owns (leader election heartbeats)."""
        return bool(self._extend(keys=[self._k(_lock_key(name))], args=[token, _ttl_ms(ttl)]))

    def ping(self) -> None:
        """Raise ServiceUnavailable when the store cannot be reached."""
        try:
            self._redis.ping()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise ServiceUnavailable(
                f"Redis at {mask_url(self._url)} cannot be reached ({exc}); "
                "start Redis or unset GRIDBOT_REDIS_URL to use the in-process store"
            ) from exc

    def purge(self) -> int:
        """Delete every key under this store's prefix (test isolation, resets); returns how many."""
        keys = list(self._redis.scan_iter(f"{self._prefix}*", count=500))
        return int(cast(int, self._redis.delete(*keys))) if keys else 0

    def close(self) -> None:
        """Release connections."""
        self._redis.close()


def make_store(redis_url: str | None, *, prefix: str = "gridbot:") -> StateStore:
    """The Redis store when a URL is configured, else the in-process one."""
    if not redis_url:
        return MemoryStore()
    return RedisStore(redis_url, prefix=prefix)
