"""Contract tests for the state store: every test runs on the in-process store and on real Redis."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from core.errors import ServiceUnavailable
from core.store import MemoryStore, RedisStore, StateStore, held_lock, make_store

REDIS_URL = os.environ.get("GRIDBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SHORT = 0.2  # a TTL that runs out during the test
PAST_SHORT = 0.3  # sleep long enough for SHORT to have run out
LONG = 30.0  # a TTL that outlives the test


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    """Each store implementation; Redis under a per-test prefix whose keys are deleted afterwards."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        memory.close()
        return
    prefix = f"test:{uuid.uuid4().hex}:"
    shared = RedisStore(REDIS_URL, prefix=prefix)
    try:
        shared.ping()
    except ServiceUnavailable as exc:
        pytest.fail(f"the redis-backed tests need a running Redis (set GRIDBOT_TEST_REDIS_URL): {exc}")
    yield shared
    shared.close()
    cleaner = redis.Redis.from_url(REDIS_URL)
    for key in cleaner.scan_iter(match=f"{prefix}*"):
        cleaner.delete(key)
    cleaner.close()


def test_json_roundtrips_and_expires(store: StateStore) -> None:
    value = {"version": 1, "state": "LOCATION", "draft": {"category": "路灯不亮", "photos": [1, 2]}}
    store.set_json("conv:wechat:u1", value, SHORT)
    assert store.get_json("conv:wechat:u1") == value
    time.sleep(PAST_SHORT)
    assert store.get_json("conv:wechat:u1") is None


def test_string_roundtrips_and_expires(store: StateStore) -> None:
    store.set("k", "网格 7", SHORT)
    assert store.get("k") == "网格 7"
    time.sleep(PAST_SHORT)
    assert store.get("k") is None


def test_missing_key_reads_as_none(store: StateStore) -> None:
    assert store.get("nope") is None
    assert store.get_json("nope") is None


def test_set_replaces_value_and_ttl(store: StateStore) -> None:
    store.set("k", "old", SHORT)
    store.set("k", "new", LONG)
    time.sleep(PAST_SHORT)
    assert store.get("k") == "new"


def test_set_refuses_non_positive_ttl(store: StateStore) -> None:
    with pytest.raises(ValueError):
        store.set("k", "v", 0)


def test_stored_dict_not_affected_by_later_mutation(store: StateStore) -> None:
    value = {"draft": {"category": "垃圾"}}
    store.set_json("k", value, LONG)
    value["draft"]["category"] = "changed"
    read = store.get_json("k")
    assert read == {"draft": {"category": "垃圾"}}
    assert read is not None
    read["draft"]["category"] = "changed"
    assert store.get_json("k") == {"draft": {"category": "垃圾"}}


def test_delete_removes_key_and_ignores_missing(store: StateStore) -> None:
    store.set("k", "v", LONG)
    store.delete("k")
    store.delete("k")
    assert store.get("k") is None


def test_set_if_absent_only_first_wins(store: StateStore) -> None:
    assert store.set_if_absent("dedupe:wechat:1", "first", LONG) is True
    assert store.set_if_absent("dedupe:wechat:1", "second", LONG) is False
    assert store.get("dedupe:wechat:1") == "first"


def test_set_if_absent_wins_again_after_expiry(store: StateStore) -> None:
    assert store.set_if_absent("dedupe:wechat:2", "first", SHORT) is True
    time.sleep(PAST_SHORT)
    assert store.set_if_absent("dedupe:wechat:2", "second", LONG) is True
    assert store.get("dedupe:wechat:2") == "second"


def test_set_if_absent_from_16_threads_has_exactly_one_winner(store: StateStore) -> None:
    start = threading.Barrier(16)

    def attempt(i: int) -> bool:
        start.wait()
        return store.set_if_absent("dedupe:telegram:9", str(i), LONG)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count(True) == 1


def test_incr_creates_counter_and_adds_amount(store: StateStore) -> None:
    assert store.incr("count") == 1
    assert store.incr("count", 5) == 6
    assert store.incr("count", -2) == 4
    assert store.get("count") == "4"


def test_incr_sets_ttl_only_when_creating_counter(store: StateStore) -> None:
    assert store.incr("rate:u1", ttl=SHORT) == 1
    assert store.incr("rate:u1", ttl=LONG) == 2  # the window is not pushed back
    time.sleep(PAST_SHORT)
    assert store.get("rate:u1") is None
    assert store.incr("rate:u1", ttl=LONG) == 1


def test_incr_without_ttl_keeps_existing_expiry(store: StateStore) -> None:
    store.set("count", "5", SHORT)
    assert store.incr("count") == 6
    time.sleep(PAST_SHORT)
    assert store.get("count") is None


def test_lock_is_exclusive_until_released(store: StateStore) -> None:
    token = store.acquire_lock("scheduler", LONG)
    assert token is not None
    assert store.acquire_lock("scheduler", LONG) is None
    assert store.release_lock("scheduler", token) is True
    assert store.acquire_lock("scheduler", LONG) is not None


def test_lock_tokens_differ_between_acquisitions(store: StateStore) -> None:
    first = store.acquire_lock("scheduler", LONG)
    assert first is not None
    store.release_lock("scheduler", first)
    second = store.acquire_lock("scheduler", LONG)
    assert second is not None
    assert second != first


def test_release_with_wrong_token_returns_false_and_keeps_lock(store: StateStore) -> None:
    token = store.acquire_lock("scheduler", LONG)
    assert token is not None
    assert store.release_lock("scheduler", "not-the-token") is False
    assert store.acquire_lock("scheduler", LONG) is None
    assert store.release_lock("scheduler", token) is True


def test_expired_lock_can_be_reacquired_and_old_token_is_void(store: StateStore) -> None:
    old = store.acquire_lock("scheduler", SHORT)
    assert old is not None
    time.sleep(PAST_SHORT)
    new = store.acquire_lock("scheduler", LONG)
    assert new is not None
    assert store.release_lock("scheduler", old) is False
    assert store.extend_lock("scheduler", old, LONG) is False
    assert store.release_lock("scheduler", new) is True


def test_extend_keeps_lock_past_its_first_ttl(store: StateStore) -> None:
    token = store.acquire_lock("scheduler", SHORT)
    assert token is not None
    assert store.extend_lock("scheduler", token, LONG) is True
    time.sleep(PAST_SHORT)
    assert store.acquire_lock("scheduler", LONG) is None
    assert store.release_lock("scheduler", token) is True


def test_extend_with_wrong_token_or_after_expiry_returns_false(store: StateStore) -> None:
    token = store.acquire_lock("scheduler", SHORT)
    assert token is not None
    assert store.extend_lock("scheduler", "not-the-token", LONG) is False
    time.sleep(PAST_SHORT)
    assert store.extend_lock("scheduler", token, LONG) is False


def test_held_lock_yields_whether_acquired_and_releases(store: StateStore) -> None:
    with held_lock(store, "job", LONG) as outer:
        assert outer is True
        with held_lock(store, "job", LONG) as inner:
            assert inner is False
    assert store.acquire_lock("job", LONG) is not None


def test_held_lock_releases_when_block_raises(store: StateStore) -> None:
    with pytest.raises(RuntimeError), held_lock(store, "job", LONG):
        raise RuntimeError("boom")
    assert store.acquire_lock("job", LONG) is not None


def test_ping_succeeds_on_reachable_store(store: StateStore) -> None:
    store.ping()


def test_ping_on_unreachable_redis_names_url_without_password() -> None:
    unreachable = RedisStore("redis://:s3cret@127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable) as caught:
        unreachable.ping()
    unreachable.close()
    message = str(caught.value)
    assert "redis://:***@127.0.0.1:1/0" in message
    assert "s3cret" not in message
    assert "unset GRIDBOT_REDIS_URL" in message


def test_make_store_uses_memory_without_url_and_redis_with_one() -> None:
    assert isinstance(make_store(None), MemoryStore)
    assert isinstance(make_store(""), MemoryStore)
    remote = make_store(REDIS_URL, prefix="test:")
    assert isinstance(remote, RedisStore)
    remote.close()


def test_memory_store_sweeps_expired_keys_nobody_reads() -> None:
    now = [0.0]
    memory = MemoryStore(sweep_interval=10.0, clock=lambda: now[0])
    for i in range(100):
        memory.set(f"dedupe:{i}", "1", 1.0)
    now[0] = 11.0
    memory.set("fresh", "1", 1.0)
    assert memory._data.keys() == {"fresh"}
