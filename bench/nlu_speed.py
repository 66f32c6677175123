"""Messages per second of ``nlp.pipeline.analyse`` on one core, after warm-up, vs a scikit-learn baseline.

    .venv/bin/python bench/nlu_speed.py [--seconds 3]

The baseline is the same classifier as a scikit-learn Pipeline (TfidfVectorizer + LogisticRegression) calling
``predict`` once per message, as a service would; it does intent only, while ``analyse`` also does the category
and every entity. Start-up (import + warm_up) is timed in a fresh interpreter, without scikit-learn.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_STARTUP = ("import time, sys; s = time.perf_counter(); from nlp.pipeline import warm_up; warm_up(); "
            "print(time.perf_counter() - s, 'sklearn' in sys.modules)")


def rate(fn: Callable[[str], object], messages: list[str], seconds: float) -> float:
    """Call ``fn`` over the messages in a loop for about ``seconds``; messages per second."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in messages:
            fn(text)
        done += len(messages)
    return done / (time.perf_counter() - started)


def main() -> None:
    """Print start-up time, both rates and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    out = subprocess.run([sys.executable, "-c", _STARTUP], capture_output=True, text=True, cwd=ROOT, check=True)
    startup, sklearn_loaded = out.stdout.split()
    print(f"start-up to ready (import + warm_up): {float(startup):.2f} s, scikit-learn imported: {sklearn_loaded}")

    from nlp import training
    from nlp.pipeline import analyse, warm_up

    warm_up()
    messages = [r.text for r in training.builtin_rows("heldout.csv")]
    ours = rate(analyse, messages, args.seconds)

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from nlp.intents import text_features

    rows = training.builtin_rows()
    pipe = make_pipeline(TfidfVectorizer(analyzer=text_features),
                         LogisticRegression(C=training.DEFAULT_C, max_iter=3000))
    pipe.fit([r.text for r in rows], [r.labels["intent"] for r in rows])
    pipe.predict(messages[:5])
    baseline = rate(lambda text: pipe.predict([text]), messages, args.seconds)
    print(f"analyse() (intent + category + entities): {ours:,.0f} messages/s ({1e3 / ours:.3f} ms each)")
    print(f"scikit-learn pipeline predict (intent only): {baseline:,.0f} messages/s ({1e3 / baseline:.3f} ms each)")
    print(f"ratio: {ours / baseline:.1f}x")


if __name__ == "__main__":
    main()
