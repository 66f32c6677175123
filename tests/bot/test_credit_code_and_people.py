"""Credit-code check digits and first-contact identification."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from core.credit_code import is_valid_credit_code, normalise_credit_code
from core.models import ChannelIdentity, Person
from core.services.people import EnterpriseProfile, InvalidCreditCode, attach_enterprise, identify
from tests.factories import NOW


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L", "9135 0100-M000 100Y43",
                                  "91350100m000100y43"])
def test_valid_credit_codes_pass(code: str) -> None:
    assert is_valid_credit_code(code)


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91350100M000100Y4", "91350100M000100I43", "",
                                  "9135010OM000100Y43", "913501AAM000100Y43"])
def test_bad_credit_codes_fail(code: str) -> None:
    assert not is_valid_credit_code(code)


def test_normalise_makes_full_width_upper_case() -> None:
    assert normalise_credit_code("９１３５０１００m000100y43") == "91350100M000100Y43"


def test_identify_creates_once_then_finds(db: Session) -> None:
    person, identity = identify(db, "wechat", "openid-1", NOW, "小王")
    again, same = identify(db, "wechat", "openid-1", NOW)
    assert (again.id, same.id, person.name, person.kind) == (person.id, identity.id, "小王", "resident")


def test_attach_enterprise_refuses_a_bad_code(db: Session) -> None:
    person, _ = identify(db, "wechat", "openid-2", NOW)
    with pytest.raises(InvalidCreditCode):
        attach_enterprise(db, person, EnterpriseProfile("某公司", "91350100M000100Y44"))


def test_two_contacts_of_one_enterprise_share_its_profile(db: Session) -> None:
    first, _ = identify(db, "wechat", "a", NOW)
    second, _ = identify(db, "telegram", "b", NOW)
    one = attach_enterprise(db, first, EnterpriseProfile("某公司", "91350100M000100Y43", "餐饮", "small"))
    two = attach_enterprise(db, second, EnterpriseProfile("某公司", "91350100m000100y43"))
    assert one.id == two.id and first.kind == second.kind == "enterprise"


def test_concurrent_first_contacts_make_one_person(_engines: dict[str, Engine]) -> None:
    """Two requests of one new user at once end with one person: the unique key and the savepoint on PostgreSQL
    (the embedded SQLite serialises writers, so the race cannot happen there)."""
    if "production" not in _engines:
        pytest.skip("GRIDBOT_TEST_BACKENDS leaves out PostgreSQL (CI always runs it)")
    engine = _engines["production"]
    external = f"race-{uuid.uuid4().hex[:8]}"
    count_people = select(func.count()).select_from(Person)
    with Session(engine) as first, Session(engine) as second, ThreadPoolExecutor(1) as pool:
        before = first.scalar(count_people)
        mine, _ = identify(first, "wechat", external, NOW)
        theirs = pool.submit(identify, second, "wechat", external, NOW)
        time.sleep(0.3)  # the second now waits on the first's uncommitted identity (or, on SQLite, its lock)
        first.commit()
        person, identity = theirs.result(timeout=10)
        second.commit()
        try:
            assert (person.id, identity.person_id) == (mine.id, mine.id)
            assert first.scalar(count_people) == before + 1
        finally:
            first.execute(delete(ChannelIdentity).where(ChannelIdentity.external_id == external))
            first.execute(delete(Person).where(Person.id == mine.id))
            first.commit()
