"""Address parser vs a plain suffix-rule baseline on the Chinese address-parsing corpus (Li & Lu, NAACL 2019).

Span-level precision/recall/F1 (exact label and offsets) over the parts gridbot extracts. Run:

    .venv/bin/python bench/address_parser.py            # evaluate on test.txt
    .venv/bin/python bench/address_parser.py --learn    # first re-learn nlp/data/address_lexicon.json from train.txt
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp import address

DATA = Path("/work/shared/data/chinese-address-parsing")
LABELS = ("poi", "road", "roadno", "community", "houseno", "cellno", "floorno", "roomno")
Span = tuple[str, int, int]


def read_bio(path: Path) -> list[tuple[str, list[Span]]]:
    """Read ``TOKEN TAG`` lines into (text, [(label, start, end)]) per address, labels lower-cased."""
    out: list[tuple[str, list[Span]]] = []
    text, spans, current = "", [], None
    for line in path.read_text("utf-8").splitlines() + [""]:
        if not line.strip():
            if current:
                spans.append(current)
            if text:
                out.append((text, spans))
            text, spans, current = "", [], None
            continue
        token, tag = line.rsplit(" ", 1)
        tag = tag.lower()
        start = len(text)
        text += token
        if tag.startswith("b-") or (tag.startswith("i-") and (current is None or current[0] != tag[2:])):
            if current:
                spans.append(current)
            current = (tag[2:], start, len(text))
        elif tag.startswith("i-") and current is not None:
            current = (current[0], current[1], len(text))
        else:
            if current:
                spans.append(current)
            current = None
    return out


_BASELINE = re.compile(r"(.+?(?:小区|花园|大厦|广场|苑|社区|村|路|街|大道|巷|号楼|栋|幢|座|单元|层|楼|室|号))")
_BASELINE_LABEL = (("小区", "poi"), ("花园", "poi"), ("大厦", "poi"), ("广场", "poi"), ("苑", "poi"),
                   ("社区", "community"), ("村", "community"), ("大道", "road"), ("路", "road"), ("街", "road"),
                   ("巷", "road"), ("号楼", "houseno"), ("栋", "houseno"), ("幢", "houseno"), ("座", "houseno"),
                   ("单元", "cellno"), ("层", "floorno"), ("楼", "floorno"), ("室", "roomno"))


def baseline(text: str) -> list[Span]:
    """Cut the text after each known suffix and label the piece by that suffix; a trailing number is a room."""
    spans: list[Span] = []
    pos = 0
    for m in _BASELINE.finditer(text):
        piece = m.group()
        label = next((lab for suf, lab in _BASELINE_LABEL if piece.endswith(suf)), None)
        if label is None:  # ends in 号: a road number after a road, else a room
            label = "roadno" if spans and spans[-1][0] == "road" else "roomno"
        spans.append((label, m.start(), m.end()))
        pos = m.end()
    tail = re.match(r"\d+", text[pos:])
    if tail:
        spans.append(("roomno", pos, pos + tail.end()))
    return spans


def ours(text: str) -> list[Span]:
    """gridbot's parser, every part it labels."""
    return [(p.label, p.start, p.end) for p in address.tag(text)]


def score(data: list[tuple[str, list[Span]]], predict: Callable[[str], list[Span]]) -> dict[str, tuple[float, ...]]:
    """Per-label and micro precision/recall/F1 over exact spans."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for text, gold in data:
        g = {s for s in gold if s[0] in LABELS}
        p = {s for s in predict(text) if s[0] in LABELS}
        for s in p & g:
            tp[s[0]] += 1
        for s in p - g:
            fp[s[0]] += 1
        for s in g - p:
            fn[s[0]] += 1
    result = {}
    for label in (*LABELS, "micro"):
        t = sum(tp.values()) if label == "micro" else tp[label]
        f_p = sum(fp.values()) if label == "micro" else fp[label]
        f_n = sum(fn.values()) if label == "micro" else fn[label]
        prec = t / (t + f_p) if t + f_p else 0.0
        rec = t / (t + f_n) if t + f_n else 0.0
        result[label] = (prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return result


def learn(out: Path) -> None:
    """Re-learn the suffix lexicon from train.txt and write it."""
    train = read_bio(DATA / "train.txt")
    lexicon = address.learn_lexicon([(lab, text[s:e]) for lab, s, e in spans] for text, spans in train)
    out.write_text(json.dumps(lexicon, ensure_ascii=False, indent=0) + "\n", "utf-8")
    print(f"wrote {out}: {len(lexicon['suffixes'])} suffixes, {len(lexicon['admin'])} administrative names")


def main() -> None:
    """Print the per-label table for both parsers and the F1 ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--learn", action="store_true", help="re-learn the lexicon from train.txt first")
    parser.add_argument("--split", default="test.txt")
    args = parser.parse_args()
    if args.learn:
        learn(Path(__file__).resolve().parent.parent / "nlp" / "data" / "address_lexicon.json")
        address.default_lexicon.cache_clear()
    data = read_bio(DATA / args.split)
    address.tag("预热")
    results = {}
    for name, fn in (("suffix baseline", baseline), ("gridbot parser", ours)):
        started = time.perf_counter()
        results[name] = score(data, fn)
        rate = len(data) / (time.perf_counter() - started)
        print(f"{name}: {rate:,.0f} addresses/s")
    print(f"\n{args.split}: {len(data)} addresses, exact span match\n")
    print("| label | baseline P/R/F1 | gridbot P/R/F1 |\n|---|---|---|")
    for label in (*LABELS, "micro"):
        cells = [" / ".join(f"{v:.3f}" for v in results[n][label]) for n in results]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    base_f1, our_f1 = results["suffix baseline"]["micro"][2], results["gridbot parser"]["micro"][2]
    print(f"\nmicro F1: baseline {base_f1:.3f}, gridbot {our_f1:.3f}, ratio {our_f1 / base_f1:.2f}x")


if __name__ == "__main__":
    main()
