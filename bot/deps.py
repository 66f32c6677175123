"""The ports the engine gets, as one typed bundle, and the production wiring of each."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
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
from nlp.policy_docs import PolicyDoc, load_synonyms
from nlp.retrieval import PolicyIndex
from nlp.tokenizer import get_tokenizer

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
    """Builds the policy index from the database and rebuilds it when the policies change (checked every
    ``check_every`` seconds by count and last update, so an import reaches a running service)."""

    threshold: float
    synonyms_file: Path | None = None
    check_every: float = 30.0
    _answerer: IndexAnswerer | None = None
    _signature: tuple[int, datetime | None] | None = None
    _checked_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, session: Session) -> PolicyAnswerer:
        """The shared answerer, rebuilt only when the stored policies changed."""
        with self._lock:
            if self._answerer is None or time.monotonic() - self._checked_at > self.check_every:
                self._checked_at = time.monotonic()
                signature = PolicyRepository(session).signature()
                if self._answerer is None or signature != self._signature:
                    docs = [policy_doc(row) for row in PolicyRepository(session).all()]
                    index = PolicyIndex.build(docs, load_synonyms(self.synonyms_file))
                    self._answerer, self._signature = IndexAnswerer(index, self.threshold), signature
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
        policies=PolicyIndexCache(settings.policy_answer_threshold, settings.policy_synonyms_file),
        # cast: RoutingDecision is frozen while core's RoutingResult protocol declares plain (settable) attributes.
        routers=cast(RouterFactory, RouterCache(tz=settings.tz).router), clock=clock,
        notifier=OutboxNotifier(settings.tz, taxonomy),
    )


def warm_up(deps: Deps) -> None:
    """Pay at start-up what the first message would: jieba and the model, the router and the policy index;
    and teach the tokenizer the imported place names so 幸福小区 stays one word."""
    pipeline.warm_up()
    with deps.session_factory() as session:
        router = deps.routers(session)
        get_tokenizer().add_words(getattr(router, "place_names", list)())
        deps.policies(session)
