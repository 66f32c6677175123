"""Policy search: colloquial and dialect questions find the right policy, with its key sentence and source.

The question table here is deliberately not the benchmark's (bench/data/policy_questions.csv): it was written after
the ranker and alias file were in place and is not tuned to them. Its known misses are strict xfails, so a fix shows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from nlp.policy_docs import PolicyDoc, load_policies, load_synonyms
from nlp.retrieval import BM25Index, PolicyIndex

POLICIES = Path(__file__).resolve().parents[2] / "examples" / "policies.jsonl"
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def docs() -> list[PolicyDoc]:
    return load_policies(POLICIES)


@pytest.fixture(scope="module")
def index(docs: list[PolicyDoc]) -> PolicyIndex:
    return PolicyIndex.build(docs)


def _miss(question: str, expected: str, reason: str) -> object:
    return pytest.param(question, expected, marks=pytest.mark.xfail(reason=reason, strict=True))


DIALECT_QUESTIONS = [
    ("我屋头开了个铺子，铺面是街道国企的，租子能免不", "sme-rent-relief"),
    ("企业一个都没裁员，失业险能退一些回来不", "job-retention-refund"),
    _miss(
        "个体户每个月营业额不到十万，增值税要交不",
        "small-taxpayer-vat",
        "the VAT policy never says 个体工商户; the veterans' one does, and mentions 增值税 too",
    ),
    _miss(
        "下岗了想做点小生意，银行能贷点款不，利息咋算",
        "startup-guarantee-loan",
        "小生意 reads as 个体工商户, which the first-loan policy names; 下岗 barely separates them",
    ),
    ("咱公司要是评上高新技术企业，区里奖多少", "hitech-enterprise-award"),
    ("我是退伍兵，想开个修车铺，有啥优惠", "veteran-startup-support"),
    ("刚添了个小宝宝，听说每年有三千多块钱，咋个领", "childcare-subsidy"),
    ("屋里老的老小的小，没得收入，能不能申请低保", "minimum-living-allowance"),
    ("我奶奶九十几岁了，每个月有好多钱", "elderly-longevity-allowance"),
    ("家里遭了火灾，东西全烧了，能申请救助不", "temporary-assistance"),
    ("娃是重度残疾，每个月护理补贴多少", "disability-two-subsidies"),
    ("学生娃毕业两年还没找到工作，能去见习不", "internship-subsidy"),
    ("店里请了两个应届毕业生，扩岗补助咋申请", "one-off-hiring-subsidy"),
    ("我在跑滴滴，社保自己交的，有补助没有", "flexible-employment-insurance-subsidy"),
    ("楼道里好多电瓶车在充电，怕着火", "ebike-charging-safety"),
    ("厨余垃圾几点钟可以丢", "garbage-sorting"),
    ("新生的娃娃咋个上医保", "resident-medical-insurance"),
    ("外地人在这打工，能租公家的房子不", "public-rental-housing"),
    ("老板拖了半年工资不发，去哪里告", "wage-arrears-complaint"),
    ("租房的话公积金能拿出来用不", "housing-fund-rent-withdrawal"),
    ("我家老楼想装电梯，政府补贴好多", "old-community-renovation"),
    ("老两口吃饭不方便，社区食堂有没有优惠", "elderly-meal-assistance"),
    _miss("考个叉车证政府能报销不", "vocational-training-subsidy", "叉车证 and 报销 are in no alias line"),
    ("第一次找银行借钱，小微企业有贴息吗", "sme-first-loan-subsidy"),
]


@pytest.mark.parametrize(("question", "expected"), DIALECT_QUESTIONS)
def test_dialect_question_ranks_its_policy_first(index: PolicyIndex, question: str, expected: str) -> None:
    hits = index.search(question, top=3, today=TODAY)
    assert hits[0].id == expected


@pytest.mark.parametrize("question", ["明天会不会下雨", "附近哪里有好吃的火锅", "护照过期了咋个续签"])
def test_out_of_scope_question_gets_no_answer(index: PolicyIndex, question: str) -> None:
    assert index.answer(question, today=TODAY) is None


def test_expired_policy_is_left_out(index: PolicyIndex) -> None:
    hits = index.search("疫情期间房租减免", top=10, today=TODAY)
    assert "covid-rent-relief-2022" not in [hit.id for hit in hits]
    assert hits[0].id == "sme-rent-relief"


def test_expired_policy_is_found_while_it_was_valid(index: PolicyIndex) -> None:
    hits = index.search("疫情期间房租减免", top=3, today=date(2022, 6, 1))
    assert hits[0].id == "covid-rent-relief-2022"


@pytest.mark.parametrize(
    ("question", "amount"),
    [
        ("高企认定了有奖励没", "20万元"),
        ("吃低保每个月给好多钱", "960元"),
        ("育儿补贴一年给多少", "3600元"),
        ("创业担保贷款个人最多贷多少", "30万元"),
        ("稳岗返还中小微企业返多少", "60%"),
    ],
)
def test_summary_of_amount_question_states_the_amount(index: PolicyIndex, question: str, amount: str) -> None:
    answer = index.answer(question, today=TODAY)
    assert answer is not None
    assert amount in answer.summary


def test_summary_of_how_question_says_where_to_apply(index: PolicyIndex) -> None:
    answer = index.answer("残疾人两项补贴去哪里申请", today=TODAY)
    assert answer is not None
    assert "申请" in answer.summary


def test_deployer_alias_line_changes_the_result(docs: list[PolicyDoc], tmp_path: Path) -> None:
    question = "寿星钱咋个领"
    assert PolicyIndex.build(docs).answer(question, today=TODAY) is None
    extra = tmp_path / "aliases.txt"
    extra.write_text("# 本地说法\n高龄津贴 寿星钱\n", encoding="utf-8")
    answer = PolicyIndex.build(docs, synonyms=load_synonyms(extra)).answer(question, today=TODAY)
    assert answer is not None
    assert answer.id == "elderly-longevity-allowance"


def test_hit_carries_title_source_and_bounded_score(index: PolicyIndex) -> None:
    hit = index.search("高企认定了有奖励没", top=1, today=TODAY)[0]
    assert hit.title == "高新技术企业认定奖励"
    assert hit.source_url == "https://zwfw.example.gov.cn/zc/hitech-enterprise-award.html"
    assert 0.0 < hit.score <= 1.0


def test_answer_carries_title_source_and_end_date(index: PolicyIndex) -> None:
    answer = index.answer("招了几个应届大学生，有扩岗补助没", today=TODAY)
    assert answer is not None
    assert (answer.id, answer.title) == ("one-off-hiring-subsidy", "企业招用高校毕业生一次性扩岗补助")
    assert answer.source_url == "https://zwfw.example.gov.cn/zc/one-off-hiring-subsidy.html"
    assert answer.valid_to == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ("enterprise", "hiring-disadvantaged-insurance-subsidy"),
        ("resident", "flexible-employment-insurance-subsidy"),
    ],
)
def test_audience_prefers_its_own_policies(index: PolicyIndex, audience: str, expected: str) -> None:
    assert index.search("社保补贴", top=1, today=TODAY, audience=audience)[0].id == expected


@pytest.mark.parametrize(("regions", "shown"), [(None, True), ({"ST03", "C01"}, True), ({"ST01"}, False)])
def test_region_bound_policy_shows_only_in_its_region(
    index: PolicyIndex, regions: set[str] | None, shown: bool
) -> None:
    hits = index.search("想在夜市摆摊", top=5, today=TODAY, regions=regions)
    assert ("street-night-market-stalls" in [hit.id for hit in hits]) is shown


@pytest.mark.parametrize(
    "tags", ["低保,救助", "低保、救助", '["低保", "救助"]', ["低保", "救助"], "低保，救助"]
)
def test_tags_accept_commas_enumeration_commas_and_json_lists(tags: object) -> None:
    doc = PolicyDoc.from_record({"id": "p1", "title": "t", "body": "b", "tags": tags})
    assert doc.tags == ("低保", "救助")


def test_record_with_bad_date_is_refused() -> None:
    with pytest.raises(ValueError, match="valid_to"):
        PolicyDoc.from_record({"id": "p1", "title": "t", "body": "b", "valid_to": "明年"})


def test_record_accepts_chinese_audience_and_blank_optionals() -> None:
    doc = PolicyDoc.from_record(
        {"id": "p1", "title": "t", "body": "b", "audience": "企业", "region": "", "valid_to": ""}
    )
    assert (doc.audience, doc.region, doc.valid_to) == ("enterprise", None, None)


def test_csv_policies_load_like_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "policies.csv"
    path.write_text(
        "id,title,body,tags,audience,valid_to\np1,育儿补贴,每孩每年3600元。,育儿、补贴,resident,2030-12-31\n",
        encoding="utf-8",
    )
    (doc,) = load_policies(path)
    assert (doc.id, doc.tags, doc.valid_to) == ("p1", ("育儿", "补贴"), date(2030, 12, 31))


def test_packaged_aliases_load_with_the_concept_first() -> None:
    groups = load_synonyms()
    assert any(group[0] == "高新技术企业" and "高企" in group for group in groups)


def test_baseline_bm25_finds_a_plainly_worded_policy(docs: list[PolicyDoc]) -> None:
    assert BM25Index(docs).search("高新技术企业认定奖励", top=1)[0][0] == "hitech-enterprise-award"


def test_empty_index_finds_nothing() -> None:
    index = PolicyIndex.build([])
    assert (index.search("低保一个月多少钱"), index.answer("低保一个月多少钱")) == ([], None)
