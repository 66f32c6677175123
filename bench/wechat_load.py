"""Load test of ``POST /wechat``: the full service vs a bare FastAPI endpoint, same machine, same generator.

    .venv/bin/python bench/wechat_load.py [--seconds 10] [--connections 64]

Starts (1) gridbot's app on one uvicorn worker with PostgreSQL + Redis — a private schema and key prefix,
dropped/purged afterwards, demo city seeded — (2) a bare FastAPI app that reads the body and returns a
fixed XML reply, and (3) the "redis+pg ceiling": the bare app plus one Redis SET NX and one PostgreSQL
INSERT + COMMIT per request (one worker-thread hop, same libraries and pool as gridbot) — the most any
endpoint that dedupes and records every message can do here — and (4) the "async ceiling": the same
two writes with ``redis.asyncio`` and psycopg's async pool on the event loop, no threads, and (5) the "ideal
turn": the lightest full turn any design could run — signature, decode, dedupe and conversation load in one Redis
round trip, NLU, conversation save and reply cache in a second, the inbound row group-committed — with no identity,
flow or ORM (``serve_ideal``). All on uvloop + httptools, access log off.
A keep-alive asyncio load generator on loopback posts signed messages with distinct MsgIds (plaintext and
safe mode; a mix of text, menu clicks, locations, follows, photos) and prints messages/s and p50/p99 latency
for each, and the ratios. Every gridbot message is deduped, recorded and runs a real turn.

    .venv/bin/python bench/wechat_load.py --engine echo        # the channel alone, with a stub engine
    .venv/bin/python bench/wechat_load.py --turn-threads 4     # turns in flight at once (default TURN_THREADS)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI, Request
from fastapi.responses import Response

from bot.adapters.wechat_adapter import MessageCrypto, sign
from bot.messages import Inbound, Reply


class EchoTurn:
    """``--engine echo``: isolates the channel's own cost (dedupe, record, render) from the engine's."""

    def handle(self, inbound: Inbound) -> list[Reply]:
        """One fixed reply."""
        return [Reply("收到")]

PG_URL = os.environ.get("GRIDBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GRIDBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN, APP_ID = "bench-token", "wx_bench_app"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
TEXTS = ["你好", "我要报修", "小区门口路灯坏了", "幸福小区3栋", "13812345678", "查询办理进度", "跳过", "1",
         "创业补贴怎么申请", "楼下广场舞太吵了", "确认", "取消"]


FIXED_REPLY = ("<xml><ToUserName><![CDATA[u]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName>"
               "<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content></xml>")
UVICORN: dict[str, Any] = {"host": "127.0.0.1", "log_level": "warning", "access_log": False, "loop": "uvloop", "http": "httptools"}


def serve_gridbot(port: int, db_url: str, prefix: str, engine_kind: str, turn_threads: str) -> None:
    """Child process: gridbot's app (the ``gridbot serve`` wiring) on a private schema and key prefix."""
    import logging

    import uvicorn

    from bot.deps import build_deps
    from bot.engine import Engine
    from core.db import make_engine, make_session_factory
    from core.settings import get_settings
    from core.store import RedisStore
    from webhooks.app import AppState, create_app
    from webhooks.metrics import Metrics
    from webhooks.wechat import build_wechat

    logging.getLogger().setLevel(logging.WARNING)
    settings = get_settings(_env_file=None, database_url=db_url, redis_url=REDIS_URL, wechat_token=TOKEN,
                            wechat_app_id=APP_ID, wechat_aes_key=AES_KEY, media_dir=Path("/tmp/gridbot-bench-media"))
    engine = make_engine(db_url)
    store = RedisStore(REDIS_URL, prefix=prefix)
    factory = make_session_factory(engine)
    state = AppState(settings, engine, factory, store, Metrics(), time.monotonic())
    bot = EchoTurn() if engine_kind == "echo" else Engine(build_deps(settings, factory, store))
    state.wechat, state.outbox = build_wechat(settings, factory, store, state.metrics, bot)
    assert state.wechat is not None
    if int(turn_threads):
        state.wechat.limiter.total_tokens = int(turn_threads)
    uvicorn.run(create_app(settings, state), port=port, **UVICORN)


def serve_bare(port: int) -> None:
    """Child process: read the body, answer a fixed passive reply."""
    import uvicorn

    app = FastAPI()

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        await request.body()
        return Response(FIXED_REPLY, media_type="application/xml")

    uvicorn.run(app, port=port, **UVICORN)


def serve_ceiling(port: int, db_url: str, prefix: str, turn_threads: str) -> None:
    """Child process: the bare endpoint plus one Redis SET NX and one PostgreSQL INSERT + COMMIT per request."""
    import uvicorn
    from anyio import CapacityLimiter, to_thread
    from sqlalchemy import text

    from core.db import make_engine
    from core.store import RedisStore
    from webhooks.wechat import TURN_THREADS

    engine, store = make_engine(db_url), RedisStore(REDIS_URL, prefix=prefix)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_ceiling (id serial PRIMARY KEY, message_id text UNIQUE)"))
    insert = text("INSERT INTO bench_ceiling (message_id) VALUES (:m)")
    limiter, seq = CapacityLimiter(int(turn_threads) or TURN_THREADS), itertools.count()
    app = FastAPI()

    def dedupe_and_record(key: str) -> None:
        if store.set_if_absent(f"dedupe:{key}", "1", 300):
            with engine.begin() as conn:
                conn.execute(insert, {"m": key})

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        await request.body()
        await to_thread.run_sync(dedupe_and_record, f"{os.getpid()}:{next(seq)}", limiter=limiter)
        return Response(FIXED_REPLY, media_type="application/xml")

    uvicorn.run(app, port=port, **UVICORN)


def pool_lifespan(pool: Any, ddl: str, background: Callable[[], Any] | None = None) -> Any:
    """A lifespan that opens psycopg's async ``pool``, runs ``ddl`` and keeps ``background()`` running."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with pool:
            async with pool.connection() as conn:
                await conn.execute(ddl)
            task = asyncio.create_task(background()) if background else None
            yield
            if task is not None:
                task.cancel()

    return lifespan


def serve_async_ceiling(port: int, db_url: str, prefix: str) -> None:
    """Child process: the ceiling's SET NX + INSERT + COMMIT with ``redis.asyncio`` and psycopg's async pool.

    No thread hop: would an async webhook path have more headroom than the sync drivers in threads?
    """
    import uvicorn
    from psycopg_pool import AsyncConnectionPool
    from redis import asyncio as aredis
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool = AsyncConnectionPool(conninfo, min_size=8, max_size=8, open=False)
    redis = aredis.Redis.from_url(REDIS_URL, max_connections=64)
    seq = itertools.count()

    app = FastAPI(lifespan=pool_lifespan(pool, "CREATE TABLE IF NOT EXISTS bench_async_ceiling "
                                               "(id serial PRIMARY KEY, message_id text UNIQUE)"))

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        await request.body()
        key = f"{os.getpid()}:{next(seq)}"
        if await redis.set(f"{prefix}dedupe:{key}", "1", px=300_000, nx=True):
            async with pool.connection() as conn:  # commits on leaving the block
                await conn.execute("INSERT INTO bench_async_ceiling (message_id) VALUES (%s)", (key,))
        return Response(FIXED_REPLY, media_type="application/xml")

    uvicorn.run(app, port=port, **UVICORN)


def serve_ideal(port: int, db_url: str, prefix: str) -> None:
    """Child process: the lightest full turn any design could run here — the floor under gridbot's cost.

    Everything the target names and nothing more, each part in its cheapest form: the signature checked and the
    message decoded (decrypted in safe mode) with gridbot's own adapter; ONE Redis round trip that claims the
    dedupe key and loads the conversation; the NLU (text only); ONE round trip that saves the conversation and
    caches the reply; the inbound row group-committed to PostgreSQL (rows batched, each request awaits its
    batch's commit); the reply sealed. No identity, no flow, no ORM, no thread: async drivers on the event loop.
    """
    import json
    from datetime import UTC, datetime

    import uvicorn
    from psycopg_pool import AsyncConnectionPool
    from redis import asyncio as aredis
    from sqlalchemy.engine import make_url

    from bot.adapters.wechat_adapter import parse_xml, passive_xml, signature_ok, to_inbound
    from bot.deps import pipeline_nlu
    from nlp import pipeline

    pipeline.warm_up()
    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = AsyncConnectionPool(conninfo, min_size=2, max_size=2, open=False)
    redis = aredis.Redis.from_url(REDIS_URL, max_connections=64, decode_responses=True)
    crypto = MessageCrypto(TOKEN, AES_KEY, APP_ID)
    pending: list[tuple[tuple[str, str, str], asyncio.Future[None]]] = []
    wake = asyncio.Event()

    async def group_commit() -> None:
        """Write whatever rows queued up while the previous batch committed, in one transaction."""
        while True:
            await wake.wait()
            wake.clear()
            while pending:
                batch = pending[:]
                del pending[:]
                async with pool.connection() as conn, conn.cursor() as cur:  # commits on leaving
                    await cur.executemany("INSERT INTO bench_ideal (message_id, user_key, kind) VALUES (%s, %s, %s)"
                                          " ON CONFLICT DO NOTHING", [row for row, _ in batch])
                for _, done in batch:
                    done.set_result(None)

    app = FastAPI(lifespan=pool_lifespan(pool, "CREATE TABLE IF NOT EXISTS bench_ideal (id serial PRIMARY KEY, "
                                               "message_id text UNIQUE, user_key text, kind text)", group_commit))

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        query, body = request.query_params, await request.body()
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not signature_ok(sign(TOKEN, timestamp, nonce), query.get("signature")):
            return Response(status_code=403)
        safe = query.get("encrypt_type") == "aes"
        fields = parse_xml(body)
        if safe:
            fields = parse_xml(crypto.decrypt_envelope(fields, query.get("msg_signature"), timestamp, nonce).encode())
        inbound = to_inbound(fields)
        dedupe, conv_key = f"{prefix}dedupe:{inbound.message_id}", f"{prefix}conv:{inbound.user_key}"
        async with redis.pipeline(transaction=False) as pipe:
            claimed, stored = await pipe.set(dedupe, "pending", px=300_000, nx=True).get(conv_key).execute()
        if not claimed:
            return Response("success")
        conversation = json.loads(stored) if stored else {"turns": 0}
        text = inbound.text or ""
        intent = pipeline_nlu(text, datetime.now(UTC)).intent if text else str(inbound.kind)
        conversation["turns"] += 1
        conversation["last"] = intent
        done = asyncio.get_running_loop().create_future()
        pending.append(((inbound.message_id, inbound.user_key, str(inbound.kind)), done))
        wake.set()
        await done
        xml = passive_xml(f"收到：{intent}", to_user=inbound.user_key, from_account="gh_bench")
        if safe:
            xml = crypto.encrypt_reply(xml, timestamp, nonce)
        async with redis.pipeline(transaction=False) as pipe:
            await pipe.set(conv_key, json.dumps(conversation), px=1_800_000).set(dedupe, xml, px=300_000).execute()
        return Response(xml, media_type="application/xml")

    uvicorn.run(app, port=port, **UVICORN)


def serve_werobot(port: int) -> None:
    """Child process: a WeRoBot echo bot with its default session store (SQLite), the framework baseline the
    product names (about 550/s here), on the same uvicorn, one worker. Its WSGI app runs on ONE thread: the
    SQLite store shares one connection, which concurrent threads corrupt ("another row available")."""
    import tempfile

    import uvicorn
    import werobot
    from uvicorn.middleware.wsgi import WSGIMiddleware
    from werobot.session.sqlitestorage import SQLiteStorage

    folder = tempfile.mkdtemp(prefix="gridbot-bench-werobot-")
    robot = werobot.WeRoBot(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY,
                            session_storage=SQLiteStorage(f"{folder}/werobot_session.sqlite3"))

    @robot.handler
    def echo(message: Any, session: dict[str, Any]) -> str:
        session["turns"] = session.get("turns", 0) + 1
        return str(getattr(message, "content", "") or "ok")

    uvicorn.run(WSGIMiddleware(robot.wsgi, workers=1), port=port, interface="asgi3", **UVICORN)


def message_xml(n: int, rng: random.Random, residents: int = 2000) -> str:
    """One message of the mix, from one of ``residents`` residents, with a distinct MsgId."""
    user, now = f"oBench{rng.randrange(residents):05d}", int(time.time())
    head = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime>")
    roll = rng.random()
    if roll < 0.70:
        body = f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{rng.choice(TEXTS)}]]></Content>"
    elif roll < 0.82:
        key = rng.choice(["report", "policy", "progress", "human"])
        return head + f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[{key}]]></EventKey><MsgId>{n}</MsgId></xml>"
    elif roll < 0.90:
        body = ("<MsgType><![CDATA[location]]></MsgType><Location_X>36.1</Location_X><Location_Y>120.3</Location_Y>"
                "<Scale>15</Scale><Label><![CDATA[幸福小区北门]]></Label>")
    elif roll < 0.95:
        body = "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[u]]></PicUrl><MediaId><![CDATA[m]]></MediaId>"
    else:
        return head + f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><MsgId>{n}</MsgId></xml>"
    return head + body + f"<MsgId>{n}</MsgId></xml>"


def follow_xml(n: int, resident: int) -> str:
    """Resident ``resident`` follows the account (their first contact: person and identity are created)."""
    return (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench{resident:05d}]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[subscribe]]></Event><MsgId>{n}</MsgId></xml>")


def build_requests(count: int, safe: bool, seed: int, residents: int = 2000, *, follows: bool = False) -> list[bytes]:
    """Pre-built raw HTTP/1.1 requests (signing is the platform's cost, not ours); ``follows``: one follow
    from each resident instead of the mix."""
    rng, crypto = random.Random(seed), MessageCrypto(TOKEN, AES_KEY, APP_ID)
    out = []
    for n in range(residents if follows else count):
        msg_id = seed * 10_000_000 + n
        xml = follow_xml(msg_id, n) if follows else message_xml(msg_id, rng, residents)
        ts, nonce = str(int(time.time())), str(rng.randrange(10**9))
        query = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
        if safe:
            enc = crypto.encrypt(xml)
            query |= {"encrypt_type": "aes", "msg_signature": sign(TOKEN, ts, nonce, enc)}
            xml = f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
        body = xml.encode()
        out.append(f"POST /wechat?{urlencode(query)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def _worker(port: int, requests: list[bytes], feed: itertools.count[int], stop_at: float,
                  latencies: list[float], errors: list[int]) -> None:
    """One keep-alive connection sending requests back to back until time or requests run out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.perf_counter() < stop_at:
        i = next(feed)
        if i >= len(requests):
            break
        started = time.perf_counter()
        writer.write(requests[i])
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors.append(status)
    writer.close()


async def drive(port: int, requests: list[bytes], connections: int, seconds: float) -> dict[str, float]:
    """Run the load; messages/s, p50/p99 (ms) and errors."""
    latencies: list[float] = []
    errors: list[int] = []
    feed = itertools.count()
    started = time.perf_counter()
    await asyncio.gather(*(_worker(port, requests, feed, started + seconds, latencies, errors)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return {"rate": len(latencies) / elapsed, "p50": pick(0.50), "p99": pick(0.99), "n": len(latencies),
            "errors": len(errors)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(role: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server child and wait until it accepts connections."""
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", role, str(port), *args], cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return child, port
        except OSError:
            time.sleep(0.2)
    child.kill()
    raise RuntimeError(f"{role} server did not start")


def prepare_database(schema: str) -> str:
    """A private schema, migrated and seeded with the demo city; returns its URL."""
    from sqlalchemy import text

    from core.db import make_engine
    from core.settings import get_settings
    from gridbot.cli_service import seed_demo

    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    seed_demo(get_settings(_env_file=None, database_url=url))
    return url


def cleanup(schema: str, prefix: str) -> None:
    """Drop the schema and purge the key prefix."""
    from sqlalchemy import text

    from core.db import make_engine
    from core.store import RedisStore

    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
    RedisStore(REDIS_URL, prefix=prefix).purge()


def run_case(label: str, port: int, safe: bool, args: argparse.Namespace, seed: int) -> dict[str, float]:
    """Warm up — every resident follows the account, as they would before writing — then measure one server
    in one mode: the measured mix is residents who already have an identity, each message a real turn."""
    asyncio.run(drive(port, build_requests(0, safe, seed + 900, args.residents, follows=True), args.connections, 60))
    asyncio.run(drive(port, build_requests(300, safe, seed + 950, args.residents), args.connections, 5))
    requests = build_requests(args.max_requests, safe, seed, args.residents)
    result = asyncio.run(drive(port, requests, args.connections, args.seconds))
    print(f"{label:28} {result['rate']:8.0f} msg/s   p50 {result['p50']:6.1f} ms   p99 {result['p99']:6.1f} ms"
          f"   n={result['n']:.0f} errors={result['errors']:.0f}", flush=True)
    return result


def print_ratios(mode: str, results: dict[tuple[str, str], dict[str, float]]) -> None:
    """Every server against the bare endpoint; gridbot against the target and the redis+pg ceiling."""
    bare = results.get(("bare", mode))
    if bare is None:
        return
    ratios = [f"{name}/bare = {results[name, mode]['rate'] / bare['rate']:.3f}"
              for name in ("werobot", "ceiling", "async", "ideal", "gridbot") if (name, mode) in results]
    print(f"{mode:10} " + ", ".join(ratios))
    full, ceiling = results.get(("gridbot", mode)), results.get(("ceiling", mode))
    if full is not None:
        ratio = full["rate"] / bare["rate"]
        verdict = "MET" if ratio >= 1 / 6 and full["p99"] < 100 else "NOT MET"
        versus = f"; gridbot/ceiling = {full['rate'] / ceiling['rate']:.3f}" if ceiling else ""
        print(f"{'':10} target: gridbot/bare ≥ 0.167 and p99 {full['p99']:.1f} ms < 100 → {verdict}{versus}")


def main() -> int:
    """Benchmark both servers in both modes and print the ratio against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--engine", choices=["real", "echo"], default="real",
                        help="echo: a stub engine, to measure the channel without the conversation engine")
    parser.add_argument("--residents", type=int, default=2000,
                        help="distinct senders; each follows the account (first contact) during the warm-up")
    parser.add_argument("--turn-threads", type=int, default=0,
                        help="turns (and ceiling requests) in flight at once; 0: TURN_THREADS")
    parser.add_argument("--only", choices=["bare", "werobot", "ceiling", "async", "ideal", "gridbot"], nargs="+",
                        default=["bare", "werobot", "ceiling", "async", "ideal", "gridbot"],
                        help="servers to measure (ratios need bare)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        role, port = args.serve[0], int(args.serve[1])
        roles: dict[str, Callable[..., None]] = {"bare": serve_bare, "ceiling": serve_ceiling,
                                                  "async": serve_async_ceiling, "ideal": serve_ideal,
                                                  "werobot": serve_werobot,
                                                  "gridbot": serve_gridbot}
        roles[role](port, *args.serve[2:])
        return 0
    tag = uuid.uuid4().hex[:8]
    schema, prefix = f"gridbot_bench_{tag}", f"gridbot-bench:{tag}:"
    children: list[subprocess.Popen[bytes]] = []
    labels = {"bare": "bare FastAPI", "werobot": "WeRoBot echo", "ceiling": "redis+pg ceiling", "async": "async ceiling",
              "ideal": "ideal turn", "gridbot": "gridbot /wechat"}
    try:
        db_url = prepare_database(schema)
        threads = str(args.turn_threads)
        servers: dict[str, tuple[str, ...]] = {
            "bare": ("bare",), "werobot": ("werobot",), "ceiling": ("ceiling", db_url, prefix + "ceiling:", threads),
            "async": ("async", db_url, prefix + "async:"), "ideal": ("ideal", db_url, prefix + "ideal:"),
            "gridbot": ("gridbot", db_url, prefix, args.engine, threads)}
        ports = {}
        for name in args.only:
            child, ports[name] = start(*servers[name])
            children.append(child)
        results = {}
        for mode, safe in (("plaintext", False), ("safe", True)):
            for seed, name in enumerate(args.only, 1):
                results[name, mode] = run_case(f"{labels[name]} ({mode})", ports[name], safe, args, seed * 2 + safe)
        for mode in ("plaintext", "safe"):
            print_ratios(mode, results)
    finally:
        for child in children:
            child.terminate()
            child.wait(10)
        cleanup(schema, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
