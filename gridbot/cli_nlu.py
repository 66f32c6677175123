"""``gridbot nlu``: JSON lines in → JSON lines out; ``nlu train`` retrains the classifier; ``nlu eval`` scores it."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.errors import OperatorError

if TYPE_CHECKING:  # nlp is imported inside the commands, so `gridbot --help` stays instant
    from nlp import intents


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``nlu`` command group."""
    nlu = sub.add_parser("nlu", help="understand messages: JSON lines {\"text\": ...} on stdin → JSON lines out")
    nlu.set_defaults(func=run_stream)
    actions = nlu.add_subparsers(dest="nlu_command", metavar="ACTION")

    train = actions.add_parser("train", help="retrain from the built-in set plus your labelled CSV")
    train.add_argument("--data", type=Path, help="CSV with text,intent,category (or text + --label-column)")
    train.add_argument("--out", type=Path, help="where to write the model (default: the packaged model file)")
    _label_options(train)
    train.add_argument("--c", type=float, default=None, help="inverse regularisation strength (default 20)")
    train.set_defaults(func=run_train)

    evaluate = actions.add_parser("eval", help="accuracy, per-class P/R/F1 and confusion matrix on a CSV")
    evaluate.add_argument("csv", type=Path, help="labelled CSV")
    evaluate.add_argument("--folds", type=int, help="k-fold cross-validation of the training method on this CSV")
    evaluate.add_argument("--model", type=Path, help="model file to score (default: GRIDBOT_NLU_MODEL or packaged)")
    _label_options(evaluate)
    evaluate.set_defaults(func=run_eval)


def _label_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label-column", help="name of the label column in your CSV (your own taxonomy)")
    parser.add_argument("--head", choices=("intent", "category"),
                        help="which classifier that column trains (default: intent if named so, else category)")


def run_stream(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Answer each stdin line ``{"text": ..., "now"?: ISO}`` with one JSON line; a bad line gets ``{"error"}``."""
    from nlp.pipeline import analyse, warm_up

    source, sink = stdin or sys.stdin, stdout or sys.stdout
    warm_up()
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            text, now = _parse_line(line)
            out = analyse(text, now).to_json()
        except ValueError as exc:
            out = json.dumps({"error": f"line {number}: {exc}"}, ensure_ascii=False)
        sink.write(out + "\n")
        sink.flush()
    return 0


def _parse_line(line: str) -> tuple[str, datetime | None]:
    """Read one request line; raise ValueError saying what is wrong with it."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(request, dict) or not isinstance(request.get("text"), str):
        raise ValueError('expected an object with a string "text"')  # noqa: TRY004 (bad input, reported per line)
    now = request.get("now")
    if now is None:
        return request["text"], None
    try:
        return request["text"], datetime.fromisoformat(str(now))
    except ValueError:
        raise ValueError(f'"now" is not an ISO date-time: {now!r}') from None


def run_train(args: argparse.Namespace) -> int:
    """Retrain on the built-in rows plus the deployer's CSV and write the exported weights."""
    from nlp import intents, training

    rows, notes = training.builtin_rows(), list[str]()
    if args.data:
        extra = training.read_csv(args.data, args.label_column, args.head)
        rows, notes = training.merge_rows(rows, extra)
        print(f"read {len(extra)} rows from {args.data}")
    model = training.train(rows, c=args.c or training.DEFAULT_C)
    out = args.out or intents.packaged_model_path()
    try:
        model.save(out)
    except OSError as exc:
        raise OperatorError(f"{out}: cannot write the model ({exc.strerror})") from None
    for note in notes:
        print(f"note: {note}")
    for name, head in model.heads.items():
        print(f"head {name}: {len(head.classes)} classes ({', '.join(head.classes)})")
    print(f"trained on {len(rows)} rows, {len(model.vocabulary)} features; wrote {out}")
    intents.reset_default()
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Print accuracy, per-class P/R/F1 and the confusion matrix, for the model or by k-fold CV."""
    from nlp import intents, training

    rows = training.read_csv(args.csv, args.label_column, args.head)
    heads = sorted({h for r in rows for h in r.labels})
    for head in heads:
        if args.folds:
            result = training.cross_validate(rows, head, k=args.folds)
            title = f"[{head}] {args.folds}-fold cross-validation: "
        else:
            model = _load_model(args.model)
            if head not in model.heads:
                raise OperatorError(f"the model has no '{head}' head (it has: {', '.join(model.heads)})")
            predict = _intent_predictor if head == intents.INTENT_HEAD else None
            result = training.evaluate(model, rows, head, predict)
            title = f"[{head}] "
        print(result.format(title))
        print()
    return 0


def _load_model(path: Path | None) -> intents.LinearModel:
    """The model to evaluate: a given file, or the default one; a missing file is an operator error."""
    from nlp import intents

    target = path or intents.model_path()
    if not Path(target).is_file():
        raise OperatorError(f"{target}: no model file (run `gridbot nlu train` first)")
    return intents.LinearModel.load(target) if path else intents.load_default()


def _intent_predictor(model: intents.LinearModel, head: str, text: str) -> str:
    """Intent as the bot sees it: rules for clear-cut commands, then the model."""
    from nlp.intents import classify

    return classify(text, model).label
