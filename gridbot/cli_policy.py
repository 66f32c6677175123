"""``gridbot policy search QUERY``: the ranking behind the bot's policy answers, for operators and tools."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.errors import OperatorError
from core.repositories import PolicyRepository
from core.settings import get_settings
from gridbot.cli_data import command_group
from gridbot.operator import operator_session
from nlp.policy_docs import PolicyDoc, load_synonyms
from nlp.retrieval import PolicyIndex

if TYPE_CHECKING:
    from gridbot.cli_data import SubParsers


def register(sub: SubParsers) -> None:
    """Add ``policy search``."""
    search = command_group(sub, "policy").add_parser("search", help="search the imported policies")
    search.add_argument("query", help="the question, as a user would ask it")
    search.add_argument("--top", type=int, default=5, help="how many results (default 5)")
    search.add_argument("--json", action="store_true", help='print [{"id","title","score","summary"}, …]')
    search.set_defaults(func=cmd_policy_search)


def cmd_policy_search(args: argparse.Namespace) -> int:
    """Rank the imported policies for a question, best first."""
    if args.top < 1:
        raise OperatorError("--top must be at least 1")
    settings = get_settings()
    try:
        synonyms = load_synonyms(settings.policy_synonyms_file)
    except OSError as exc:
        raise OperatorError(f"GRIDBOT_POLICY_SYNONYMS_FILE {settings.policy_synonyms_file}: {exc.strerror}") from None
    with operator_session() as session:
        docs = [PolicyDoc(id=p.id, title=p.title, body=p.body, tags=tuple(p.tags or ()), audience=p.audience,
                          region=p.region_code, valid_from=p.valid_from, valid_to=p.valid_to,
                          source_url=p.source_url) for p in PolicyRepository(session).all()]
    today = datetime.now(UTC).astimezone(settings.tz).date()
    hits = PolicyIndex.build(docs, synonyms).search(args.query, top=args.top, today=today) if docs else []
    rows = [{"id": h.id, "title": h.title, "score": round(h.score, 4), "summary": h.summary} for h in hits]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        print("no policies imported yet (gridbot policy import FILE)" if not docs else "no matching policy")
    else:
        for row in rows:
            print(f"{row['score']:.3f}  {row['id']}  {row['title']}\n       {row['summary']}")
    return 0
