"""Training, evaluation and CSV reading, including a deployer's own label column."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import OperatorError
from nlp import training
from nlp.intents import LinearModel

DEPLOYER_CSV = """text,工单类型
楼下水管爆了,water
家里没水了,water
自来水发黄,water
水压太低,water
停水了也没通知,water
路面塌了个坑,road
马路上全是坑,road
人行道砖坏了,road
路烂得没法走,road
道路开裂了,road
"""


def _write(tmp_path: Path, content: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_read_csv_with_custom_label_column(tmp_path: Path) -> None:
    rows = training.read_csv(_write(tmp_path, DEPLOYER_CSV), label_column="工单类型")
    assert len(rows) == 10
    assert rows[0] == training.Row("楼下水管爆了", {"category": "water"})


@pytest.mark.parametrize(("content", "where"), [
    ("text,intent\n你好,greet\n,report\n", ":3:1: empty text"),
    ("text,intent\n你好,greet\n路灯坏了\n", ":3:2: expected 2 columns"),
    ("words,intent\n你好,greet\n", ":1:1: no 'text' column"),
    ("text,intent\n你好,\n", ":2:2: no label"),
])
def test_bad_csv_names_file_line_and_column(tmp_path: Path, content: str, where: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(OperatorError, match=str(path).replace(".", r"\.") + where):
        training.read_csv(path)


def test_missing_label_column_is_an_operator_error(tmp_path: Path) -> None:
    with pytest.raises(OperatorError, match="no column 'kind'"):
        training.read_csv(_write(tmp_path, DEPLOYER_CSV), label_column="kind")


def test_not_utf8_is_an_operator_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("text,intent\n你好,greet\n".encode("gbk"))
    with pytest.raises(OperatorError, match=r":1:1: not UTF-8"):
        training.read_csv(path)


def test_deployer_taxonomy_replaces_builtin_categories_and_round_trips(tmp_path: Path) -> None:
    extra = training.read_csv(_write(tmp_path, DEPLOYER_CSV), label_column="工单类型")
    rows, notes = training.merge_rows(training.builtin_rows(), extra)
    model = training.train(rows)
    model.save(tmp_path / "model.npz")
    loaded = LinearModel.load(tmp_path / "model.npz")
    assert loaded.heads["category"].classes == ("road", "water")
    assert "intent" in loaded.heads
    assert notes and "category" in notes[0]
    assert loaded.predict("category", "我家水龙头没水").label == "water"
    assert loaded.predict("intent", "小区门口的路灯坏了").label == "report"


def test_report_has_per_class_scores_and_confusion() -> None:
    result = training.report(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert result.accuracy == 0.75
    assert result.per_class["a"] == (1.0, 0.5, pytest.approx(2 / 3), 2)
    assert result.confusion == [[1, 1], [0, 2]]
    assert "confusion" in result.format()


def test_cross_validation_uses_every_row_once(tmp_path: Path) -> None:
    rows = training.read_csv(_write(tmp_path, DEPLOYER_CSV), label_column="工单类型")
    result = training.cross_validate(rows, "category", k=2)
    assert result.n == 10
    assert set(result.classes) == {"road", "water"}


def test_folds_are_fixed_by_seed_and_partition_the_rows() -> None:
    first, second = training.folds(20, 5, seed=1), training.folds(20, 5, seed=1)
    assert first == second
    assert sorted(i for fold in first for i in fold) == list(range(20))
