"""Training and evaluation of the NLU classifier (offline; the only module that imports scikit-learn).

``train(rows)`` fits one TF-IDF vocabulary over every text and one multinomial logistic regression per head,
then exports them as a ``nlp.intents.LinearModel``. ``evaluate`` and ``cross_validate`` report accuracy,
per-class precision/recall/F1 and the confusion matrix. ``read_csv`` reads a labelled CSV and names the file,
line and column of anything wrong.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import OperatorError
from nlp.intents import CATEGORY_HEAD, INTENT_HEAD, REPORT_INTENTS, Head, LinearModel, text_features

DEFAULT_C = 20.0
SUBLINEAR_TF = False  # raw counts did better on long complaint texts (TipDM) and no worse on short messages
BUILTIN_TRAINING = "train.csv"
BUILTIN_HELDOUT = "heldout.csv"


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled message: its text and a label per head (``{"intent": "report", "category": "noise"}``)."""

    text: str
    labels: dict[str, str] = field(default_factory=dict)


# --- reading data ----------------------------------------------------------------------------------------------


def read_csv(path: str | Path, label_column: str | None = None, head: str | None = None) -> list[Row]:
    """Read ``text`` plus ``intent``/``category`` columns, or ``text`` plus ``label_column`` as ``head``.

    Raises OperatorError naming ``file:line:column`` for a missing column, an empty text or label, or bad bytes.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return _read_rows(path, csv.reader(fh), label_column, head)
    except FileNotFoundError:
        raise OperatorError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise OperatorError(f"{path}:1:1: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise OperatorError(f"{path}: not a readable CSV ({exc})") from None


def _read_rows(path: Path, reader: Any, label_column: str | None, head: str | None) -> list[Row]:
    """Check the header, then every row; collect what is wrong and raise once."""
    header = [h.strip() for h in next(reader, [])]
    columns = _label_columns(path, header, label_column, head)
    if "text" not in header:
        raise OperatorError(f"{path}:1:1: no 'text' column (header: {', '.join(header) or 'empty'})")
    text_at = header.index("text")
    rows, problems = [], []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(f"{path}:{line}:{min(len(record), len(header)) + 1}: "
                            f"expected {len(header)} columns, found {len(record)}")
            continue
        text = record[text_at].strip()
        if not text:
            problems.append(f"{path}:{line}:{text_at + 1}: empty text")
            continue
        labels = {name: record[col].strip() for name, col in columns.items() if record[col].strip()}
        if not labels:
            first = min(columns.values())
            problems.append(f"{path}:{line}:{first + 1}: no label in column '{header[first]}'")
            continue
        rows.append(Row(text, labels))
    if problems:
        raise OperatorError(f"{len(problems)} problem(s) in the CSV:\n" + "\n".join(problems[:50]))
    if not rows:
        raise OperatorError(f"{path}:2:1: no labelled rows")
    return rows


def _label_columns(path: Path, header: list[str], label_column: str | None, head: str | None) -> dict[str, int]:
    """Map head name → column index from the header and the ``--label-column`` choice."""
    if label_column:
        if label_column not in header:
            raise OperatorError(f"{path}:1:1: no column '{label_column}' (header: {', '.join(header)})")
        return {head or default_head_for(label_column): header.index(label_column)}
    found = {name: header.index(name) for name in (INTENT_HEAD, CATEGORY_HEAD) if name in header}
    if not found and "label" in header:
        found = {head or CATEGORY_HEAD: header.index("label")}
    if not found:
        raise OperatorError(f"{path}:1:1: no label column: expected intent/category or label, "
                            "or name one with --label-column")
    return found


def default_head_for(column: str) -> str:
    """A label column named ``intent`` trains the intent head; any other column the category head."""
    return INTENT_HEAD if column == INTENT_HEAD else CATEGORY_HEAD


def builtin_rows(name: str = BUILTIN_TRAINING) -> list[Row]:
    """The training (or held-out) set shipped in ``nlp/data``."""
    with resources.as_file(resources.files("nlp.data").joinpath(name)) as path:
        return read_csv(path)


def merge_rows(builtin: list[Row], extra: list[Row]) -> tuple[list[Row], list[str]]:
    """Add a deployer's rows to the built-in set; a head with labels outside ours replaces our labels.

    Returns the rows and notes for the operator about heads whose built-in labels were dropped.
    """
    notes, rows = [], list(builtin)
    for head in sorted({h for r in extra for h in r.labels}):
        theirs = {r.labels[head] for r in extra if head in r.labels}
        ours = {r.labels[head] for r in builtin if head in r.labels}
        if not theirs <= ours:
            rows = [Row(r.text, {k: v for k, v in r.labels.items() if k != head}) for r in rows]
            notes.append(f"head '{head}': {len(theirs - ours)} label(s) not in the built-in taxonomy, "
                         "so it is trained on your rows only")
    return rows + list(extra), notes


# --- training --------------------------------------------------------------------------------------------------


def _vectoriser() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=text_features, sublinear_tf=SUBLINEAR_TF, dtype=np.float64)


def _fit_head(x: Any, labels: Sequence[str], c: float) -> Head:
    """Fit one multinomial logistic regression and keep its weights as a Head."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(x, list(labels))
    coef, intercept = clf.coef_.T, clf.intercept_
    if len(clf.classes_) == 2:  # binary: softmax over [0, w·x + b] is the logistic probability
        coef = np.hstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]])
    return Head(tuple(str(c_) for c_ in clf.classes_), np.ascontiguousarray(coef), np.asarray(intercept))


def head_rows(rows: Iterable[Row], head: str) -> list[Row]:
    """The rows that carry a label for ``head``; the category head learns from report rows only."""
    selected = [r for r in rows if head in r.labels]
    if head == CATEGORY_HEAD:
        selected = [r for r in selected if r.labels.get(INTENT_HEAD, "report") in REPORT_INTENTS]
    return selected


def train(rows: Sequence[Row], c: float = DEFAULT_C, heads: Sequence[str] | None = None) -> LinearModel:
    """Fit the shared vocabulary and one classifier per head; returns the exportable model."""
    if not rows:
        raise OperatorError("no training rows")
    vectoriser = _vectoriser()
    texts = [r.text for r in rows]
    matrix = vectoriser.fit_transform(texts)
    position = {id(r): i for i, r in enumerate(rows)}
    fitted = {}
    for head in heads or sorted({h for r in rows for h in r.labels}):
        selected = head_rows(rows, head)
        if len({r.labels[head] for r in selected}) < 2:
            raise OperatorError(f"head '{head}' needs at least two different labels to learn from")
        fitted[head] = _fit_head(matrix[[position[id(r)] for r in selected]], [r.labels[head] for r in selected], c)
    vocabulary = vectoriser.get_feature_names_out().tolist()
    return LinearModel(vocabulary, vectoriser.idf_, fitted, {"c": c, "rows": len(rows), "sublinear_tf": SUBLINEAR_TF})


# --- evaluation ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix (rows = truth)."""

    accuracy: float
    classes: tuple[str, ...]
    per_class: dict[str, tuple[float, float, float, int]]
    confusion: list[list[int]]
    n: int

    def format(self, title: str = "") -> str:
        """A plain-text table for the console."""
        lines = [f"{title}accuracy {self.accuracy:.3f} on {self.n} messages", "",
                 f"{'class':<18}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
        for cls in self.classes:
            p, r, f1, s = self.per_class[cls]
            lines.append(f"{cls:<18}{p:>10.3f}{r:>10.3f}{f1:>10.3f}{s:>9d}")
        short = [c[:6] for c in self.classes]
        lines += ["", "confusion (rows = true, columns = predicted)", " " * 18 + "".join(f"{s:>7}" for s in short)]
        for cls, row in zip(self.classes, self.confusion):
            lines.append(f"{cls:<18}" + "".join(f"{v:>7d}" for v in row))
        return "\n".join(lines)


def report(truth: Sequence[str], predicted: Sequence[str]) -> Report:
    """Compare predictions with the truth."""
    classes = tuple(sorted(set(truth) | set(predicted)))
    index = {c: i for i, c in enumerate(classes)}
    confusion = [[0] * len(classes) for _ in classes]
    for t, p in zip(truth, predicted):
        confusion[index[t]][index[p]] += 1
    per_class = {}
    for c, i in index.items():
        tp = confusion[i][i]
        pred = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        prec = tp / pred if pred else 0.0
        rec = tp / support if support else 0.0
        per_class[c] = (prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0, support)
    correct = sum(confusion[i][i] for i in range(len(classes)))
    return Report(correct / max(len(truth), 1), classes, per_class, confusion, len(truth))


def evaluate(model: LinearModel, rows: Sequence[Row], head: str,
             predict: Callable[[LinearModel, str, str], str] | None = None) -> Report:
    """Score a trained model on labelled rows for one head."""
    selected = head_rows(rows, head)
    if not selected:
        raise OperatorError(f"no rows with a '{head}' label to evaluate")
    guess = predict or (lambda m, h, t: m.predict(h, t).label)
    return report([r.labels[head] for r in selected], [guess(model, head, r.text) for r in selected])


def folds(n: int, k: int, seed: int = 13) -> list[list[int]]:
    """Split ``range(n)`` into ``k`` shuffled folds (fixed seed, so every method sees the same folds)."""
    if k < 2 or k > n:
        raise OperatorError(f"--folds must be between 2 and the number of rows ({n})")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def cross_validate(rows: Sequence[Row], head: str, k: int = 5, c: float = DEFAULT_C, seed: int = 13) -> Report:
    """k-fold cross-validation of this training method on one head; predictions pooled over the folds."""
    selected = head_rows(rows, head)
    truth, predicted = [], []
    for test_idx in folds(len(selected), k, seed):
        test = set(test_idx)
        model = train([r for i, r in enumerate(selected) if i not in test], c=c, heads=[head])
        truth += [selected[i].labels[head] for i in test_idx]
        predicted += [model.predict(head, selected[i].text).label for i in test_idx]
    return report(truth, predicted)
