"""Intent and report-category classification with exported linear weights, scored in plain numpy.

Training (``nlp.training``, scikit-learn, offline) writes one ``.npz`` file: the feature vocabulary, idf weights
and, for each head (``intent``, ``category`` or a deployer's own), a coefficient matrix and intercepts. Here we
rebuild the same TF-IDF vector (character 1–3-grams plus jieba words, raw or sublinear tf, l2 norm) and take a
softmax, so scoring a message costs a few dictionary look-ups and one small matrix product, and scikit-learn
is never imported at run time. A handful of rules catch clear-cut short commands (取消, 接单 20261204-0007).
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from nlp.tokenizer import get_tokenizer

MODEL_ENV = "GRIDBOT_NLU_MODEL"
PACKAGED_MODEL = "nlu_model.npz"
FEATURE_VERSION = 1
INTENT_HEAD = "intent"
CATEGORY_HEAD = "category"
REPORT_INTENTS = frozenset({"report"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Below these confidences the dialogue should ask rather than act."""

    intent: float = 0.5
    category: float = 0.4


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class IntentResult:
    """The best label of one head, its probability, and the runners-up (best first)."""

    label: str
    score: float
    confident: bool
    ranked: tuple[tuple[str, float], ...] = ()
    by_rule: bool = False


# --- features --------------------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFKC (full-width → half-width), lower case, every digit run → ``0``, no whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub("", _DIGITS.sub("0", text))


def text_features(text: str, cut: Callable[[str], list[str]] | None = None) -> list[str]:
    """The feature strings of a text: character 1-, 2- and 3-grams and ``w:``-prefixed words."""
    norm = normalise_text(text)
    feats = list(norm)
    feats += [norm[i:i + 2] for i in range(len(norm) - 1)]
    feats += [norm[i:i + 3] for i in range(len(norm) - 2)]
    words = (cut or get_tokenizer().cut)(norm)
    feats += ["w:" + w for w in words]
    return feats


# --- the exported model ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Head:
    """One classifier over the shared features: classes, coefficients (features × classes), intercepts."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray


class LinearModel:
    """TF-IDF vocabulary and idf shared by every head; scores texts without scikit-learn."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, heads: dict[str, Head],
                 meta: dict[str, object] | None = None) -> None:
        self.vocabulary = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.heads = heads
        self.meta = dict(meta or {})
        self.sublinear_tf = bool(self.meta.get("sublinear_tf", False))

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The sparse TF-IDF vector of a text as (column indices, l2-normalised weights)."""
        counts = Counter(text_features(text))
        cols, vals = [], []
        vocab = self.vocabulary
        for term, count in counts.items():
            col = vocab.get(term)
            if col is not None:
                cols.append(col)
                vals.append(1.0 + math.log(count) if self.sublinear_tf else float(count))
        idx = np.fromiter(cols, dtype=np.int64, count=len(cols))
        weights = np.fromiter(vals, dtype=np.float64, count=len(vals)) * self.idf[idx]
        norm = math.sqrt(float(weights @ weights))
        return idx, (weights / norm if norm else weights)

    def probabilities(self, head: str, vector: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Softmax probabilities of one head's classes for a vector from ``vector()``."""
        h = self.heads[head]
        idx, weights = vector
        scores = weights @ h.coef[idx] + h.intercept
        scores = np.exp(scores - scores.max())
        return np.asarray(scores / scores.sum())

    def predict(self, head: str, text: str, threshold: float = 0.0,
                vector: tuple[np.ndarray, np.ndarray] | None = None) -> IntentResult:
        """The most probable class of one head for a text."""
        probs = self.probabilities(head, vector if vector is not None else self.vector(text))
        order = np.argsort(-probs)[:3]
        classes = self.heads[head].classes
        ranked = tuple((classes[i], round(float(probs[i]), 4)) for i in order)
        return IntentResult(ranked[0][0], float(probs[order[0]]), float(probs[order[0]]) >= threshold, ranked)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as one compressed ``.npz`` file (no pickle)."""
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        arrays: dict[str, np.ndarray] = {
            "vocabulary": np.array(terms, dtype=str),
            "idf": self.idf.astype(np.float32),
            "meta": np.array(json.dumps({**self.meta, "heads": list(self.heads),
                                         "feature_version": FEATURE_VERSION}, ensure_ascii=False)),
        }
        for name, head in self.heads.items():
            arrays[f"{name}.classes"] = np.array(head.classes, dtype=str)
            arrays[f"{name}.coef"] = head.coef.astype(np.float32)
            arrays[f"{name}.intercept"] = head.intercept.astype(np.float32)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinearModel:
        """Read a model written by ``save``."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            heads = {name: Head(tuple(data[f"{name}.classes"].tolist()),
                                data[f"{name}.coef"].astype(np.float64),
                                data[f"{name}.intercept"].astype(np.float64)) for name in meta["heads"]}
            return cls(data["vocabulary"].tolist(), data["idf"], heads, meta)


def packaged_model_path() -> Path:
    """Where the model shipped with gridbot lives (also the default output of ``gridbot nlu train``)."""
    return Path(str(resources.files("nlp.data").joinpath(PACKAGED_MODEL)))


def model_path() -> Path:
    """The model to load: ``GRIDBOT_NLU_MODEL`` when set, else the packaged one."""
    return Path(os.environ.get(MODEL_ENV) or packaged_model_path())


_loaded: LinearModel | None = None
_load_lock = threading.Lock()


def load_default() -> LinearModel:
    """The process's model, loaded once from ``model_path()``."""
    global _loaded
    if _loaded is None:
        with _load_lock:
            if _loaded is None:
                _loaded = LinearModel.load(model_path())
    return _loaded


def reset_default() -> None:
    """Forget the loaded model, so the next call reloads (after retraining, or in tests)."""
    global _loaded
    _loaded = None


# --- rules for clear-cut short commands ------------------------------------------------------------------------

_CASE = r"(?:\s*[:：]?\s*20\d{6}[-－_]?\d{4})?"
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cancel", re.compile(r"^(?:取消|算了|不办了|不报了|退出|撤销)(?:吧|了|啦|掉)?[。.!！]*$")),
    ("task_accept", re.compile(rf"^(?:接单|我接了|确认接单){_CASE}[。.!！]*$")),
    ("task_resolve", re.compile(rf"^(?:办结|已办结|结单){_CASE}(?:\s+.*)?$")),
    ("task_transfer", re.compile(rf"^转派{_CASE}(?:\s+.*)?$")),
    ("task_list", re.compile(r"^(?:我的任务|任务列表|我的待办)[。.!！?？]*$")),
    ("human", re.compile(r"^(?:转人工|人工|人工客服|人工服务)[。.!！]*$")),
    ("greet", re.compile(r"^(?:你好|您好|hi|hello|菜单|帮助|help)[呀啊!！。]*$", re.IGNORECASE)),
)


def rule_intent(text: str) -> str | None:
    """The intent of a short, unambiguous command, if the text is one."""
    stripped = unicodedata.normalize("NFKC", text).strip()
    if len(stripped) > 40:
        return None
    return next((intent for intent, pattern in _RULES if pattern.match(stripped)), None)


def classify(text: str, model: LinearModel | None = None,
             thresholds: Thresholds = DEFAULT_THRESHOLDS) -> IntentResult:
    """The intent of a message: a rule for clear-cut commands, else the learned model."""
    intent = rule_intent(text)
    if intent is not None:
        return IntentResult(intent, 1.0, True, ((intent, 1.0),), by_rule=True)
    return (model or load_default()).predict(INTENT_HEAD, text, thresholds.intent)


def classify_category(text: str, model: LinearModel | None = None,
                      thresholds: Thresholds = DEFAULT_THRESHOLDS) -> IntentResult:
    """The report category of a message (one of the taxonomy's category codes)."""
    return (model or load_default()).predict(CATEGORY_HEAD, text, thresholds.category)
