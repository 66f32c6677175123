"""One call for the whole understanding of a message: intent, report category, confidence and entities.

``analyse(text)`` is what the bot and ``gridbot nlu`` use. Nothing heavy happens at import time; the app calls
``warm_up()`` in its lifespan so the first message does not pay for loading jieba and the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from nlp import entities as entity_extraction
from nlp.entities import Entities
from nlp.intents import (
    CATEGORY_HEAD,
    DEFAULT_THRESHOLDS,
    INTENT_HEAD,
    REPORT_INTENTS,
    LinearModel,
    Thresholds,
    load_default,
    rule_intent,
)
from nlp.tokenizer import get_tokenizer


@dataclass(frozen=True, slots=True)
class NluResult:
    """What a message means; ``needs_confirmation`` is set when a confidence is under its threshold."""

    intent: str
    category: str | None
    confidence: float
    category_confidence: float | None
    needs_confirmation: bool
    entities: Entities
    alternatives: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The ``gridbot nlu`` contract: intent, category, confidence and entities."""
        return {
            "intent": self.intent,
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "entities": self.entities.as_dict(),
        }

    def to_json(self) -> str:
        """One JSON line (UTF-8 text, not escaped)."""
        return json.dumps(self.as_dict(), ensure_ascii=False)


def analyse(text: str, now: datetime | None = None, *, model: LinearModel | None = None,
            thresholds: Thresholds = DEFAULT_THRESHOLDS) -> NluResult:
    """Classify a message and extract its entities; relative times resolve against ``now``."""
    model = model or load_default()
    found = entity_extraction.extract(text, now)
    rule = rule_intent(text)
    vector = model.vector(text) if rule is None or rule in REPORT_INTENTS else None
    alternatives: tuple[tuple[str, float], ...]
    if rule is not None:
        intent, confidence, alternatives = rule, 1.0, ((rule, 1.0),)
    else:
        result = model.predict(INTENT_HEAD, text, thresholds.intent, vector=vector)
        intent, confidence, alternatives = result.label, result.score, result.ranked
    category, category_confidence = None, None
    if intent in REPORT_INTENTS and CATEGORY_HEAD in model.heads and vector is not None:
        best = model.predict(CATEGORY_HEAD, text, thresholds.category, vector=vector)
        category, category_confidence = best.label, best.score
    unsure = confidence < thresholds.intent or (
        category_confidence is not None and category_confidence < thresholds.category)
    return NluResult(intent, category, confidence, category_confidence, unsure, found, alternatives)


def warm_up() -> None:
    """Load the tokenizer dictionary and the model, and run one message through everything."""
    get_tokenizer().initialise()
    load_default()
    analyse("小区门口的路灯坏了，电话13912345678")
