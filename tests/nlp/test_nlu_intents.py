"""Intent and category on messages that are in neither train.csv nor heldout.csv."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from nlp.intents import Thresholds, classify, rule_intent
from nlp.pipeline import analyse

UNSEEN = [
    ("我们楼下的路灯已经黑了一个星期了", "report", "municipal"),
    ("单元楼门口那堆垃圾都发臭了", "report", "sanitation"),
    ("楼上邻居半夜还在蹦迪吵死了", "report", "noise"),
    ("有人在楼道里给电瓶车充电", "report", "safety"),
    ("小区的电梯又停了物业也不来", "report", "property"),
    ("门口有人摆摊卖烧烤占了整条人行道", "report", "street_order"),
    ("楼顶有户人家在搭违建", "report", "illegal_building"),
    ("帮我们公司办个营业执照", "report", "enterprise"),
    ("路边那棵大树快倒了", "report", "greening"),
    ("我的电瓶车昨晚被偷了", "report", "public_security"),
    ("垃圾分类政策是啥子哦", "policy", None),
    ("小微企业租金减免有啥条件", "policy", None),
    ("我报的那个单子现在咋样了", "progress", None),
    ("路灯修好啦真是感谢", "rate", None),
    ("您好呀", "greet", None),
    ("我要找人工", "human", None),
    ("取消这次上报", "cancel", None),
    ("接单 20261209-0001", "task_accept", None),
    ("办结 20261204-0007 已清理", "task_resolve", None),
    ("转派 20261209-0001 地址在隔壁网格", "task_transfer", None),
    ("查看一下我的任务", "task_list", None),
]


def _known_texts() -> set[str]:
    texts: set[str] = set()
    for name in ("train.csv", "heldout.csv"):
        with resources.files("nlp.data").joinpath(name).open(encoding="utf-8") as fh:
            texts |= {row["text"] for row in csv.DictReader(fh)}
    return texts


def test_table_is_unseen_by_training() -> None:
    assert not {text for text, _, _ in UNSEEN} & _known_texts()


@pytest.mark.parametrize(("text", "intent", "category"), UNSEEN)
def test_intent_and_category(text: str, intent: str, category: str | None) -> None:
    result = analyse(text)
    assert (result.intent, result.category) == (intent, category)


@pytest.mark.parametrize(("text", "intent"), [
    ("取消", "cancel"), ("算了", "cancel"), ("接单 20261204-0007", "task_accept"), ("接单", "task_accept"),
    ("转派 20261204-0007 不在本网格", "task_transfer"), ("你好", "greet"), ("转人工", "human"),
    ("取消了路灯还是坏的", None), ("小区门口的路灯坏了", None),
])
def test_rules_only_catch_short_clear_commands(text: str, intent: str | None) -> None:
    assert rule_intent(text) == intent


def test_confidence_is_a_probability_and_thresholds_decide_confirmation() -> None:
    text = "嗯那个事情你看着办吧"
    sure = analyse(text, thresholds=Thresholds(intent=0.0, category=0.0))
    unsure = analyse(text, thresholds=Thresholds(intent=1.0, category=1.0))
    assert 0.0 < sure.confidence <= 1.0
    assert not sure.needs_confirmation
    assert unsure.needs_confirmation


def test_classify_ranks_alternatives_best_first() -> None:
    result = classify("小区门口的路灯坏了好几天了")
    scores = [score for _, score in result.ranked]
    assert result.label == "report"
    assert scores == sorted(scores, reverse=True)


def test_category_only_for_reports() -> None:
    assert analyse("你好呀").category is None
