"""Policy Q&A: answer from the knowledge base with the key sentence, title and source; offer to apply."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.messages import Button
from handlers import texts
from handlers.flow import Flow, Intent, PolicyHit, Step, Turn, on_cancel

GENERIC_QUESTION_LENGTH = 4


class PolicyState(StrEnum):
    """Where the policy flow waits."""

    ASKING = "asking"
    ANSWERED = "answered"


@dataclass
class PolicyDraft:
    """Nothing to fill in: the last policy lives in the conversation memo, where 帮我申请 finds it."""


def audience(turn: Turn) -> str | None:
    """Enterprise contacts get enterprise policies first; anyone else gets no preference (we do not know yet)."""
    return "enterprise" if turn.person.kind == "enterprise" or turn.person.enterprise_id else None


def answer_text(hit: PolicyHit) -> str:
    """Key sentence, title, source and the offer to apply."""
    lines = [texts.POLICY_ANSWER.format(summary=hit.summary, title=hit.title)]
    if hit.source_url:
        lines.append(texts.POLICY_SOURCE.format(url=hit.source_url))
    lines.append(texts.POLICY_FOLLOW_UP)
    return "\n".join(lines)


def wants_to_apply(turn: Turn) -> bool:
    """帮我申请 / 帮我办, pressed or typed."""
    return turn.choice == "apply" or any(word in turn.text for word in texts.APPLY_WORDS + texts.HELPER_WORDS)


def on_question(turn: Turn, draft: PolicyDraft) -> Step:
    """Answer the question from the knowledge base, or say nothing matched and offer a helper."""
    if turn.choice is not None or len(turn.text) <= GENERIC_QUESTION_LENGTH:
        return Step.goto(PolicyState.ASKING, texts.POLICY_ASK)
    today = turn.now.astimezone(turn.settings.tz).date()
    hit = turn.policies().answer(turn.text, today=today, audience=audience(turn))
    if hit is None:
        turn.memo["policy"] = {"id": None, "title": turn.text}
        return Step.goto(PolicyState.ANSWERED, texts.POLICY_NOT_FOUND, [Button(texts.HELPER, "apply")])
    turn.memo["policy"] = {"id": hit.policy_id, "title": hit.title}
    return Step.goto(PolicyState.ANSWERED, answer_text(hit), [Button(texts.APPLY, "apply")])


def on_asking(turn: Turn, draft: PolicyDraft) -> Step:
    """Take whatever the user types as the question."""
    if turn.choice is not None or not turn.text:
        return Step.handoff()
    return on_question(turn, draft)


def on_answered(turn: Turn, draft: PolicyDraft) -> Step:
    """帮我申请 goes to the enterprise-service flow, a follow-up question is answered, anything else is routed."""
    if wants_to_apply(turn):
        return Step.handoff()
    if turn.wants(Intent.POLICY):
        return on_question(turn, draft)
    return Step.handoff()


POLICY_FLOW = Flow(
    "policy_qa", PolicyDraft, entry=on_question,
    states={PolicyState.ASKING: on_asking, PolicyState.ANSWERED: on_answered},
    fallbacks={Intent.CANCEL: on_cancel},
)
