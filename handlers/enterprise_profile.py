"""Enterprise service: 帮我申请 after a policy answer files a case for the grid's helper (帮办员).

The enterprise profile (name, credit code, industry, size, address) is asked for once and reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.messages import Button
from core.credit_code import is_valid_credit_code, normalise_credit_code
from core.models import Enterprise
from core.services.cases import OpenCase
from core.services.people import EnterpriseProfile, attach_enterprise, enterprise_of
from handlers import texts
from handlers.flow import Flow, Intent, Step, Turn, file_case, on_cancel
from handlers.query_case import who_handles


class ProfileState(StrEnum):
    """Where the profile questions wait."""

    NAME = "name"
    CREDIT_CODE = "credit_code"
    INDUSTRY = "industry"
    SIZE = "size"
    ADDRESS = "address"


@dataclass
class ServiceDraft:
    """The service request and, for a first-time enterprise, its profile as it is filled in."""

    topic: str = ""
    name: str = ""
    credit_code: str = ""
    industry: str = ""
    size: str = ""


def size_buttons() -> list[Button]:
    """微型 / 小型 / 中型 / 大型."""
    return [Button(label, f"size:{code}") for label, code in texts.SIZES]


def on_apply(turn: Turn, draft: ServiceDraft) -> Step:
    """File the request for a known enterprise, or start asking for its profile (once)."""
    policy = turn.memo.get("policy")
    if policy is None:
        return Step.end(texts.NO_POLICY_YET)
    draft.topic = str(policy["title"])
    enterprise = enterprise_of(turn.db, turn.person)
    if enterprise is not None:
        return file_service(turn, draft, enterprise)
    return Step.goto(ProfileState.NAME, texts.ASK_ENTERPRISE_NAME)


def on_name(turn: Turn, draft: ServiceDraft) -> Step:
    """Store the enterprise name and ask for the credit code."""
    if not turn.text:
        return Step.stay(texts.ASK_ENTERPRISE_NAME)
    draft.name = turn.text
    return Step.goto(ProfileState.CREDIT_CODE, texts.ASK_CREDIT_CODE)


def on_credit_code(turn: Turn, draft: ServiceDraft) -> Step:
    """Store the credit code when its check digit is right, and ask for the industry."""
    if not is_valid_credit_code(turn.text):
        return Step.stay(texts.BAD_CREDIT_CODE.format(code=turn.text))
    draft.credit_code = normalise_credit_code(turn.text)
    return Step.goto(ProfileState.INDUSTRY, texts.ASK_INDUSTRY)


def on_industry(turn: Turn, draft: ServiceDraft) -> Step:
    """Store the industry and ask for the size."""
    if not turn.text:
        return Step.stay(texts.ASK_INDUSTRY)
    draft.industry = turn.text
    return Step.goto(ProfileState.SIZE, texts.ASK_SIZE, size_buttons())


def on_size(turn: Turn, draft: ServiceDraft) -> Step:
    """Store the size and ask for the address that decides the grid."""
    named = next((code for label, code in texts.SIZES if label in turn.text), None)
    size = turn.choice.removeprefix("size:") if turn.choice and turn.choice.startswith("size:") else named
    if size is None:
        return Step.stay(texts.ASK_SIZE, size_buttons())
    draft.size = size
    return Step.goto(ProfileState.ADDRESS, texts.ASK_ENTERPRISE_ADDRESS)


def on_address(turn: Turn, draft: ServiceDraft) -> Step:
    """Store the profile with its address and file the request."""
    if not turn.text:
        return Step.stay(texts.ASK_ENTERPRISE_ADDRESS)
    profile = EnterpriseProfile(draft.name, draft.credit_code, draft.industry, draft.size, turn.text)
    return file_service(turn, draft, attach_enterprise(turn.db, turn.person, profile))


def file_service(turn: Turn, draft: ServiceDraft, enterprise: Enterprise) -> Step:
    """Open the enterprise-service case for the helper of the enterprise's grid."""
    cmd = OpenCase(category="enterprise", kind="enterprise_service", reporter_id=turn.person.id,
                   description=texts.SERVICE_DESCRIPTION.format(topic=draft.topic), address_text=enterprise.address,
                   contact_phone=turn.person.phone, enterprise_id=enterprise.id)
    case = file_case(turn, cmd)
    turn.memo.pop("policy", None)
    return Step.end(texts.SERVICE_FILED.format(enterprise=enterprise.name, number=case.number,
                                               handled=who_handles(turn.db, case)))


ENTERPRISE_SERVICE_FLOW = Flow(
    "enterprise_service", ServiceDraft, entry=on_apply,
    states={ProfileState.NAME: on_name, ProfileState.CREDIT_CODE: on_credit_code,
            ProfileState.INDUSTRY: on_industry, ProfileState.SIZE: on_size, ProfileState.ADDRESS: on_address},
    fallbacks={Intent.CANCEL: on_cancel},
)
