"""The ports the engine gets, as one typed bundle, and the production wiring of each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy.orm import Session

from bot.notifier import OutboxNotifier
from core.db import SessionFactory
from core.models import Policy
from core.notify import Notifier
from core.repositories import PolicyRepository
from core.services.cases import Router
from core.services.routing import RouterCache
from core.settings import Settings
from core.store import StateStore
from core.taxonomy import Taxonomy, load_taxonomy
from handlers.flow import SILENT, PolicyAnswerer, PolicyHit, Understanding
from nlp import pipeline
from nlp.retrieval import PolicyDoc, PolicyIndex

NluFn = Callable[[str, datetime], Understanding]
RouterFactory = Callable[[Session], Router]
PolicyProvider = Callable[[Session], PolicyAnswerer]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def pipeline_nlu(text: str, now: datetime) -> Understanding:
    """Understand a message with the nlp pipeline, in the shape the flows use."""
    result = pipeline.analyse(text, now)
    found = result.entities
    return Understanding(
        intent=result.intent, confidence=result.confidence, category=result.category,
        category_confidence=result.category_confidence or 0.0, phones=found.phone,
        addresses=tuple(a.text for a in found.address), case_numbers=found.case_no,
    )


@dataclass(frozen=True, slots=True)
class IndexAnswerer:
    """The policy index with the deployment's answer threshold, as the flows' PolicyAnswerer."""

    index: PolicyIndex
    threshold: float

    def answer(self, query: str, *, today: date, audience: str | None) -> PolicyHit | None:
        """The best policy when it scores at least the threshold."""
        found = self.index.answer(query, threshold=self.threshold, today=today, audience=audience)
        if found is None:
            return None
        return PolicyHit(found.id, found.title, found.summary, found.source_url, found.score)


def policy_doc(row: Policy) -> PolicyDoc:
    """A stored policy as the index takes it."""
    return PolicyDoc(id=row.id, title=row.title, body=row.body, tags=tuple(row.tags or ()), audience=row.audience,
                     region=row.region_code, valid_from=row.valid_from, valid_to=row.valid_to,
                     source_url=row.source_url)


@dataclass
class PolicyIndexCache:
    """Builds the policy index from the database on first use and keeps it until ``invalidate``."""

    threshold: float
    _answerer: IndexAnswerer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, session: Session) -> PolicyAnswerer:
        """The shared answerer, built once."""
        with self._lock:
            if self._answerer is None:
                docs = [policy_doc(row) for row in PolicyRepository(session).all()]
                self._answerer = IndexAnswerer(PolicyIndex.build(docs), self.threshold)
            return self._answerer

    def invalidate(self) -> None:
        """Rebuild on next use (after a policy import)."""
        with self._lock:
            self._answerer = None


@dataclass(frozen=True)
class Deps:
    """Everything one turn needs from outside the engine."""

    session_factory: SessionFactory
    store: StateStore
    settings: Settings
    taxonomy: Taxonomy
    nlu: NluFn
    policies: PolicyProvider
    routers: RouterFactory
    clock: Clock = utc_now
    notifier: Notifier = SILENT


def build_deps(settings: Settings, session_factory: SessionFactory, store: StateStore, *,
               clock: Clock = utc_now) -> Deps:
    """The production wiring: the nlp pipeline, the cached policy index and the cached grid router."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    return Deps(
        session_factory=session_factory, store=store, settings=settings,
        taxonomy=taxonomy, nlu=pipeline_nlu,
        policies=PolicyIndexCache(settings.policy_answer_threshold),
        # cast: RoutingDecision is frozen while core's RoutingResult protocol declares plain (settable) attributes.
        routers=cast(RouterFactory, RouterCache(tz=settings.tz).router), clock=clock,
        notifier=OutboxNotifier(settings.tz, taxonomy),
    )
