"""The web app's health, readiness and metrics endpoints."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from core.db import make_session_factory
from core.settings import Settings
from core.store import StateStore, make_store
from webhooks.app import AppState, create_app
from webhooks.metrics import Metrics


def _state(settings: Settings, engine: Engine, store: StateStore) -> AppState:
    return AppState(settings, engine, make_session_factory(engine), store, Metrics(), time.monotonic())


def test_healthz_answers(settings: Settings, engine: Engine, store: StateStore) -> None:
    with TestClient(create_app(settings, _state(settings, engine, store))) as client:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"


def test_readyz_reports_database_and_store(settings: Settings, engine: Engine, store: StateStore) -> None:
    with TestClient(create_app(settings, _state(settings, engine, store))) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "database": "ok", "store": "ok"}


def test_readyz_is_503_naming_the_unreachable_store(settings: Settings, engine: Engine) -> None:
    dead = make_store("redis://127.0.0.1:1/0")
    with TestClient(create_app(settings, _state(settings, engine, dead))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and "127.0.0.1:1" in body["store"]


def test_metrics_are_prometheus_text(settings: Settings, engine: Engine, store: StateStore) -> None:
    with TestClient(create_app(settings, _state(settings, engine, store))) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "gridbot_outbox_backlog" in response.text
    assert response.headers["content-type"].startswith("text/plain")
