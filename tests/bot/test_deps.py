"""The engine's long-lived ports: warmed at start-up, and refreshed when the deployer imports new data."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from bot.deps import PolicyIndexCache, build_deps, warm_up
from core.models import Policy
from core.services.routing import RouterCache
from core.settings import Settings
from core.store import StateStore
from nlp.tokenizer import get_tokenizer
from tests.factories import NOW, make_org, make_place


def _policy(db: Session, pid: str, title: str, body: str) -> None:
    db.add(Policy(id=pid, title=title, body=body, tags=[], audience="all", updated_at=NOW))
    db.flush()


def test_warm_up_teaches_the_tokenizer_the_imported_place_names(
        session_factory: sessionmaker[Session], store: StateStore, settings: Settings, backend: str) -> None:
    name = {"embedded": "翠柳湾家园", "production": "青松岭雅苑"}[backend]  # the tokenizer lives per process
    with session_factory() as db:
        org = make_org(db)
        make_place(db, name, org.grids[0])
        db.commit()
    assert name not in get_tokenizer().cut(f"{name}门口路灯坏了")
    warm_up(build_deps(settings, session_factory, store))
    assert name in get_tokenizer().cut(f"{name}门口路灯坏了")


def test_policy_index_picks_up_an_import_without_a_restart(db: Session) -> None:
    cache = PolicyIndexCache(threshold=0.2, check_every=0)
    _policy(db, "rent", "小微企业房租减免", "小微企业承租国有房屋的，减免三个月租金。")
    assert cache(db).answer("养老金怎么领", today=date(2026, 12, 4), audience=None) is None
    _policy(db, "pension", "城乡居民养老保险待遇领取", "年满60周岁、缴费满15年的居民，可按月领取养老金。")
    hit = cache(db).answer("养老金怎么领", today=date(2026, 12, 4), audience=None)
    assert hit is not None and hit.policy_id == "pension"


def test_router_cache_reads_the_org_again_when_old(db: Session) -> None:
    org = make_org(db)
    cache = RouterCache(max_age=0)
    assert cache.router(db).grid_for("新建的阳光里小区", None) is None
    make_place(db, "阳光里", org.grids[1])
    match = cache.router(db).grid_for("新建的阳光里小区", None)
    assert match is not None and match.region.code == "G02"
