"""Full conversational turns through the engine: NLU, session load/save, identity, and the case insert.

Runs a scripted mix of residents (report in one message → skip photo → confirm, progress, greeting, a policy
question, unknown input) on SQLite + in-process store and on PostgreSQL + Redis (a private schema and key
prefix, removed afterwards), and prints p50/p99/mean per turn, turns/s, and NLU alone as the baseline.

    .venv/bin/python bench/turn_latency.py [--users 200] [--backends embedded,production]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.deps import build_deps, pipeline_nlu
from bot.engine import Engine
from bot.messages import Inbound, InboundKind, Platform
from core.db import SessionFactory, make_engine, make_session_factory, unit_of_work, upgrade
from core.importing.org import import_org
from core.importing.policies import import_policies
from core.settings import get_settings
from core.store import StateStore, make_store
from nlp import pipeline

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
SCRIPT = (
    "幸福小区3栋门口的路灯坏了好几天了，电话13912345678", "跳过", "确认",
    "查一下进度", "你好", "我们是小微企业，房租能减免吗？", "阿斯顿发",
)


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1)] * 1000


def report(label: str, samples: list[float], wall: float) -> float:
    """Print one line of figures; returns the mean in ms."""
    mean = statistics.fmean(samples) * 1000
    print(f"{label:<34} p50 {percentile(samples, 50):6.2f} ms  p99 {percentile(samples, 99):6.2f} ms  "
          f"mean {mean:6.2f} ms  {len(samples) / wall:8.0f} /s  (n={len(samples)})")
    return mean


def seed(factory: SessionFactory) -> None:
    """The demo city and policies."""
    with unit_of_work(factory) as session:
        import_org(session, ROOT / "examples" / "org")
        import_policies(session, ROOT / "examples" / "policies.jsonl", now=datetime.now(UTC))


@contextmanager
def embedded() -> Iterator[tuple[SessionFactory, StateStore]]:
    """A fresh SQLite file and the in-process store."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        yield make_session_factory(engine), make_store(None)
        engine.dispose()


@contextmanager
def production() -> Iterator[tuple[SessionFactory, StateStore]]:
    """A private PostgreSQL schema and Redis key prefix, both removed afterwards."""
    schema, prefix = f"gridbot_bench_{uuid.uuid4().hex[:8]}", f"gridbot-bench:{uuid.uuid4().hex[:8]}:"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    store = make_store(REDIS_URL, prefix=prefix)
    try:
        upgrade(engine)
        yield make_session_factory(engine), store
    finally:
        client = store._redis  # type: ignore[attr-defined]
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        store.close()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run_turns(engine: Engine, users: int, tag: str) -> tuple[list[float], float]:
    """Every user runs the script; returns per-turn latencies and the wall time."""
    samples: list[float] = []
    start = time.perf_counter()
    for user in range(users):
        for n, line in enumerate(SCRIPT):
            inbound = Inbound(Platform.WECHAT, f"{tag}-{user}", f"{tag}-{user}", f"{tag}-{user}-{n}",
                              InboundKind.TEXT, text=line)
            t0 = time.perf_counter()
            engine.handle(inbound)
            samples.append(time.perf_counter() - t0)
    return samples, time.perf_counter() - start


def nlu_baseline(rounds: int) -> tuple[list[float], float]:
    """NLU alone on the same messages, in the same process."""
    now = datetime.now(UTC)
    samples: list[float] = []
    start = time.perf_counter()
    for _ in range(rounds):
        for line in SCRIPT:
            t0 = time.perf_counter()
            pipeline_nlu(line, now)
            samples.append(time.perf_counter() - t0)
    return samples, time.perf_counter() - start


def bench_backend(name: str, stack: Callable[[], contextmanager[tuple[SessionFactory, StateStore]]],
                  users: int) -> float:
    """Seed, warm up, then measure the scripted mix on one backend; returns the mean turn in ms."""
    with stack() as (factory, store):  # type: ignore[attr-defined]
        seed(factory)
        engine = Engine(build_deps(get_settings(_env_file=None), factory, store))
        run_turns(engine, 5, f"warm-{name}")
        samples, wall = run_turns(engine, users, name)
        return report(f"turn, {name}", samples, wall)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--backends", default="embedded,production")
    args = parser.parse_args()
    pipeline.warm_up()
    stacks = {"embedded": embedded, "production": production}
    base = report("baseline: NLU alone", *nlu_baseline(args.users))
    for name in args.backends.split(","):
        mean = bench_backend(name, stacks[name], args.users)  # type: ignore[arg-type]
        print(f"{'':<34} mean turn / mean NLU = {mean / base:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
