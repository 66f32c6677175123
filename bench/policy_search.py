"""Policy search quality and speed: our ranker vs plain BM25 over jieba tokens, on the same questions.

Usage: .venv/bin/python bench/policy_search.py [--policies examples/policies.jsonl]
       [--questions bench/data/policy_questions.csv] [--threshold 0.3] [--misses]

Questions file: ``question,expected_id[,kind]``; an empty expected_id means no policy fits (the right answer is
"no match"); kind (colloquial / plain / none) only groups the figures.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.policy_docs import load_policies
from nlp.retrieval import DEFAULT_ANSWER_THRESHOLD, BM25Index, PolicyIndex
from nlp.tokenizer import get_tokenizer

TODAY = date(2026, 12, 1)  # fixed, so expiry (and the figures) do not drift with the calendar


@dataclass(frozen=True)
class Question:
    text: str
    expected: str
    kind: str


def read_questions(path: Path) -> list[Question]:
    """The benchmark questions."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Question(row["question"], row["expected_id"].strip(), (row.get("kind") or "").strip() or "all")
            for row in csv.DictReader(handle)
        ]


def rank_ours(index: PolicyIndex, question: str) -> list[str]:
    return [hit.id for hit in index.search(question, top=3, today=TODAY)]


def evaluate(
    name: str, ranked: dict[str, list[str]], answered: dict[str, str | None], questions: list[Question]
) -> None:
    """Print top-1/top-3 per kind, and how no-match questions fared."""
    groups: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        groups[q.kind].append(q)
        if q.expected:
            groups["all answerable"].append(q)
    print(f"\n== {name}")
    for kind, items in groups.items():
        if kind == "none":
            silent = sum(answered[q.text] is None for q in items)
            print(f"  {kind:16s} n={len(items):3d}  correctly 'no match': {silent}/{len(items)}")
            continue
        top1 = sum(ranked[q.text][:1] == [q.expected] for q in items)
        top3 = sum(q.expected in ranked[q.text][:3] for q in items)
        right = sum(answered[q.text] == q.expected for q in items)
        print(
            f"  {kind:16s} n={len(items):3d}  top-1 {top1 / len(items):6.1%}  top-3 {top3 / len(items):6.1%}"
            f"  answered right {right / len(items):6.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=Path, default=ROOT / "examples" / "policies.jsonl")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "data" / "policy_questions.csv")
    parser.add_argument("--threshold", type=float, default=DEFAULT_ANSWER_THRESHOLD)
    parser.add_argument("--misses", action="store_true", help="list the questions our ranker gets wrong")
    args = parser.parse_args()

    docs = load_policies(args.policies)
    questions = read_questions(args.questions)
    tokenizer = get_tokenizer()
    tokenizer.initialise()
    started = time.perf_counter()
    ours = PolicyIndex.build(docs, tokenizer=tokenizer)
    build_ms = (time.perf_counter() - started) * 1000
    baseline = BM25Index(docs, tokenizer=tokenizer)
    print(f"{len(docs)} policies, {len(questions)} questions, today={TODAY}, threshold={args.threshold}")
    print(f"index build {build_ms:.1f} ms")

    our_ranked = {q.text: rank_ours(ours, q.text) for q in questions}
    our_answer = {}
    for q in questions:
        answer = ours.answer(q.text, threshold=args.threshold, today=TODAY)
        our_answer[q.text] = answer.id if answer else None
    base_hits = {q.text: baseline.search(q.text, top=3) for q in questions}
    base_ranked = {t: [i for i, _ in hits] for t, hits in base_hits.items()}
    base_answer = {t: (hits[0][0] if hits else None) for t, hits in base_hits.items()}

    evaluate("ours (concepts + words + bigrams, BM25F)", our_ranked, our_answer, questions)
    evaluate(
        "baseline BM25 over jieba tokens (answers whenever any term matches)",
        base_ranked,
        base_answer,
        questions,
    )
    report_ratio(questions, our_ranked, base_ranked)
    report_latency(ours, baseline, questions)
    if args.misses:
        report_misses(ours, questions, our_ranked, our_answer)


def report_ratio(questions: list[Question], ours: dict[str, list[str]], base: dict[str, list[str]]) -> None:
    for kind in ("colloquial", "all answerable"):
        items = [q for q in questions if q.expected and (kind != "colloquial" or q.kind == "colloquial")]
        a = sum(ours[q.text][:1] == [q.expected] for q in items)
        b = sum(base[q.text][:1] == [q.expected] for q in items)
        print(f"\ntop-1 ratio ours/BM25 ({kind}): {a}/{b} = {a / max(1, b):.2f}x")


def report_latency(ours: PolicyIndex, baseline: BM25Index, questions: list[Question]) -> None:
    """Per-query latency, after one warm-up pass; median and p99 over 5 passes."""
    for name, run in (
        ("ours search(top=5)", lambda text: ours.search(text, top=5, today=TODAY)),
        ("ours answer()", lambda text: ours.answer(text, today=TODAY)),
        ("BM25 search(top=5)", lambda text: baseline.search(text, top=5)),
    ):
        for q in questions:
            run(q.text)
        samples = []
        for _ in range(5):
            for q in questions:
                t0 = time.perf_counter()
                run(q.text)
                samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        p99 = samples[int(len(samples) * 0.99) - 1]
        print(f"latency {name:20s} median {statistics.median(samples):.3f} ms  p99 {p99:.3f} ms")


def report_misses(
    index: PolicyIndex,
    questions: list[Question],
    ranked: dict[str, list[str]],
    answered: dict[str, str | None],
) -> None:
    print("\nmisses (question | expected | got top-3 | answer):")
    for q in questions:
        if (q.expected and ranked[q.text][:1] != [q.expected]) or (answered[q.text] != (q.expected or None)):
            hits = index.search(q.text, top=3, today=TODAY)
            got = ", ".join(f"{h.id}:{h.score:.2f}" for h in hits)
            print(f"  {q.text} | {q.expected or '-'} | {got} | {answered[q.text]}")


if __name__ == "__main__":
    main()
