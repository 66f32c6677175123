"""gridbot's classifier training vs TF-IDF + LinearSVC, 5-fold CV on the same folds, two public data sets.

    .venv/bin/python bench/nlu_compare.py [--folds 5] [--seed 13]

Data: the TipDM 2020 C sample (7 classes, text = 留言主题 + 留言详情) and SMP2017-ECDT task 1 (31 classes).
Baselines: jieba-word TF-IDF + LinearSVC (the usual one) and character 1–3-gram TF-IDF + LinearSVC.
Prints accuracy and macro-F1 per method and the ratio of error rates.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from nlp import training
from nlp.intents import normalise_text
from nlp.tokenizer import get_tokenizer

DATA = Path("/work/shared/data")
Method = Callable[[list[str], list[str], list[str]], list[str]]


def load_tipdm() -> tuple[list[str], list[str]]:
    """TipDM sample: subject + detail as the text, 一级分类 as the label."""
    with (DATA / "tipdm2020c-sample" / "messages_sample.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [" ".join((r["留言主题"] + " " + r["留言详情"]).split()) for r in rows]
    return texts, [r["一级分类"] for r in rows]


def load_smp() -> tuple[list[str], list[str]]:
    """SMP2017-ECDT task 1: short utterances, 31 domains."""
    with (DATA / "smp2017-ecdt-task1" / "train_dev.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    return [r[0] for r in rows], [r[1] for r in rows]


def svm_words(train_x: list[str], train_y: list[str], test_x: list[str]) -> list[str]:
    """Baseline: jieba-word TF-IDF + LinearSVC (C=1)."""
    cut = get_tokenizer().cut
    vec = TfidfVectorizer(tokenizer=cut, token_pattern=None, lowercase=True)
    clf = LinearSVC().fit(vec.fit_transform(train_x), train_y)
    return list(clf.predict(vec.transform(test_x)))


def svm_chars(train_x: list[str], train_y: list[str], test_x: list[str]) -> list[str]:
    """Second baseline: character 1–3-gram TF-IDF + LinearSVC (C=1)."""
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), preprocessor=normalise_text)
    clf = LinearSVC().fit(vec.fit_transform(train_x), train_y)
    return list(clf.predict(vec.transform(test_x)))


def gridbot(train_x: list[str], train_y: list[str], test_x: list[str]) -> list[str]:
    """gridbot: nlp.training.train (chars 1–3 + words, sublinear TF-IDF, logistic regression), exported model."""
    model = training.train([training.Row(t, {"label": y}) for t, y in zip(train_x, train_y)], heads=["label"])
    return [model.predict("label", t).label for t in test_x]


def run(texts: Sequence[str], labels: Sequence[str], method: Method, k: int, seed: int) -> tuple[float, float]:
    """Pooled accuracy and macro-F1 of one method over the shared folds."""
    truth, predicted = [], []
    for test_idx in training.folds(len(texts), k, seed):
        test = set(test_idx)
        train_idx = [i for i in range(len(texts)) if i not in test]
        predicted += method([texts[i] for i in train_idx], [labels[i] for i in train_idx], [texts[i] for i in test_idx])
        truth += [labels[i] for i in test_idx]
    accuracy = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    return accuracy, float(f1_score(truth, predicted, average="macro"))


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    methods = {"TF-IDF words + LinearSVC": svm_words, "TF-IDF chars + LinearSVC": svm_chars, "gridbot": gridbot}
    print("| data set | method | accuracy | macro-F1 | seconds |\n|---|---|---|---|---|")
    summary = []
    for name, loader in (("tipdm2020c (7 classes)", load_tipdm), ("smp2017-ecdt (31 classes)", load_smp)):
        texts, labels = loader()
        scores = {}
        for method_name, method in methods.items():
            started = time.perf_counter()
            scores[method_name] = run(texts, labels, method, args.folds, args.seed)
            acc, f1 = scores[method_name]
            print(f"| {name} | {method_name} | {acc:.4f} | {f1:.4f} | {time.perf_counter() - started:.1f} |")
        base = scores["TF-IDF words + LinearSVC"][0]
        ours = scores["gridbot"][0]
        summary.append(f"{name}: gridbot {ours:.4f} vs LinearSVC {base:.4f}; "
                       f"error rate {1 - ours:.4f} vs {1 - base:.4f} ({(1 - base) / max(1 - ours, 1e-9):.2f}x fewer errors)")
    print()
    print("\n".join(summary))


if __name__ == "__main__":
    main()
