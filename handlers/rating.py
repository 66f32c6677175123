"""Rating after resolution: 1–5 or 满意/基本满意/不满意 plus an optional comment; 不满意 reopens the case."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.messages import Button
from core.lifecycle import CaseStatus
from core.models import Case
from core.repositories import CaseRepository
from core.services.cases import DISSATISFIED_AT_OR_BELOW, person_actor, rate_case
from core.services.dispatch import announce_since, last_event_id
from handlers import texts
from handlers.flow import Flow, Intent, Step, Turn, on_cancel
from handlers.query_case import own_case

_SCORE = re.compile(r"^\s*([1-5])\s*(?:分|星)?\s*$|([1-5])\s*(?:分|星)")
_NOT_COMMENT = re.compile(r"[1-5]\s*(?:分|星)?|[\s，,。.!！~]")
COMMENT_MIN_LENGTH = 3


class RatingState(StrEnum):
    """Where the rating flow waits."""

    SCORE = "score"
    COMMENT = "comment"


@dataclass
class RatingDraft:
    """The case being rated and the score given."""

    number: str = ""
    score: int = 0


def parse_score(text: str, choice: str | None) -> int | None:
    """A 1–5 score from a button, a number (4 / 4分) or words (满意, 不满意 …)."""
    if choice and choice.startswith("score:"):
        return int(choice.removeprefix("score:"))
    if match := _SCORE.search(text):
        return int(match.group(1) or match.group(2))
    return next((score for word, score in texts.RATING_WORDS if word in text), None)


def has_comment(text: str) -> bool:
    """Whether a rating message says more than its score (不满意，灯还是不亮)."""
    rest = _NOT_COMMENT.sub("", text)
    for word, _ in texts.RATING_WORDS:
        rest = rest.replace(word, "")
    return len(rest) >= COMMENT_MIN_LENGTH


def score_buttons() -> list[Button]:
    """Five buttons, the n-th worth n points."""
    return [Button(label, f"score:{n}") for n, label in enumerate(texts.RATING_BUTTONS, start=1)]


def target_case(turn: Turn) -> Case | None:
    """The case named by button or number (only the user's own), else their latest resolved one."""
    number = turn.choice.removeprefix("rate:") if turn.choice and turn.choice.startswith("rate:") else None
    number = number or (turn.nlu.case_numbers[0] if turn.nlu.case_numbers else None)
    if number is not None:
        return own_case(turn, number)
    cases = CaseRepository(turn.db).list_for_reporter(turn.person.id)
    return next((c for c in cases if c.status == CaseStatus.RESOLVED), None)


def on_rate(turn: Turn, draft: RatingDraft) -> Step:
    """Find the case to rate; take a score (and comment) given at once, or ask for the score."""
    case = target_case(turn)
    if case is None:
        return Step.end(texts.NOTHING_TO_RATE)
    if case.status != CaseStatus.RESOLVED:
        return Step.end(texts.NOT_RESOLVED.format(number=case.number))
    draft.number = case.number
    return take_score(turn, draft, texts.ASK_RATING.format(number=case.number))


def take_score(turn: Turn, draft: RatingDraft, ask: str) -> Step:
    """Store the score; a message that says more than the score is its comment too."""
    score = parse_score(turn.text, turn.choice)
    if score is None:
        return Step.goto(RatingState.SCORE, ask, score_buttons())
    draft.score = score
    if turn.choice is None and has_comment(turn.text):
        return finish(turn, draft, turn.text)
    return Step.goto(RatingState.COMMENT, texts.ASK_RATING_COMMENT, [Button(texts.SKIP, "skip")])


def on_score(turn: Turn, draft: RatingDraft) -> Step:
    """Store the score and ask for an optional comment."""
    return take_score(turn, draft, texts.ASK_RATING_AGAIN)


def on_comment(turn: Turn, draft: RatingDraft) -> Step:
    """Store the rating with the comment (or none) — the service closes or reopens the case."""
    skipped = turn.choice == "skip" or turn.text in texts.SKIP_WORDS or not turn.text
    return finish(turn, draft, None if skipped else turn.text)


def finish(turn: Turn, draft: RatingDraft, comment: str | None) -> Step:
    """Rate the case and thank the user, or tell them it went back for more work."""
    case = own_case(turn, draft.number)
    if case is None or case.status != CaseStatus.RESOLVED:
        return Step.end(texts.NOTHING_TO_RATE)
    before = last_event_id(turn.db, case)
    rate_case(turn.db, case, draft.score, comment, actor=person_actor(turn.person.id), now=turn.now,
              taxonomy=turn.taxonomy, tz=turn.settings.tz)
    announce_since(turn.db, turn.notifier, case, before)
    done = texts.REOPENED if draft.score <= DISSATISFIED_AT_OR_BELOW else texts.RATED
    return Step.end(done.format(number=case.number))


RATING_FLOW = Flow(
    "rating", RatingDraft, entry=on_rate,
    states={RatingState.SCORE: on_score, RatingState.COMMENT: on_comment},
    fallbacks={Intent.CANCEL: on_cancel},
)
