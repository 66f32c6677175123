"""The ``gridbot nlu`` JSON-lines contract, and ``nlu train`` / ``nlu eval`` on a deployer's CSV."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridbot.cli import main
from nlp import intents


@pytest.fixture(autouse=True)
def _fresh_model() -> Iterator[None]:
    intents.reset_default()
    yield
    intents.reset_default()


def _run_stream(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lines: list[str]) -> list[dict]:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["nlu"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_nlu_answers_each_line_with_the_contract(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    request = {"text": "幸福小区三栋二单元1101的路灯昨晚就坏了，电话139 1234 5678，座机0543-6312345",
               "now": "2026-12-04T09:00:00+08:00"}
    (out,) = _run_stream(monkeypatch, capsys, [json.dumps(request, ensure_ascii=False)])
    assert set(out) == {"intent", "category", "confidence", "entities"}
    assert (out["intent"], out["category"]) == ("report", "municipal")
    assert 0.0 < out["confidence"] <= 1.0
    assert out["entities"]["phone"] == ["13912345678"]
    assert out["entities"]["landline"] == ["0543-6312345"]
    assert out["entities"]["address"] == ["幸福小区三栋二单元1101"]
    assert out["entities"]["time"] == ["2026-12-03T20:00:00+08:00"]
    assert out["entities"]["case_no"] == []


def test_bad_lines_get_an_error_line_and_the_stream_goes_on(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = _run_stream(monkeypatch, capsys, ["not json", '{"text": 5}', '{"text": "接单 20261204-0007"}'])
    assert out[0] == {"error": "line 1: not JSON (Expecting value at column 1)"}
    assert out[1] == {"error": 'line 2: expected an object with a string "text"'}
    assert (out[2]["intent"], out[2]["category"], out[2]["entities"]["case_no"]) == (
        "task_accept", None, ["20261204-0007"])


def test_train_and_eval_on_a_deployer_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "history.csv"
    data.write_text("text,kind\n" + "\n".join(
        [f"{t},water" for t in ("楼下水管爆了", "家里没水了", "自来水发黄", "水压太低")]
        + [f"{t},road" for t in ("路面塌了个坑", "马路上全是坑", "人行道砖坏了", "路烂得没法走")]) + "\n",
        encoding="utf-8")
    out = tmp_path / "model.npz"
    assert main(["nlu", "train", "--data", str(data), "--label-column", "kind", "--out", str(out)]) == 0
    assert "head category: 2 classes (road, water)" in capsys.readouterr().out
    monkeypatch.setenv(intents.MODEL_ENV, str(out))
    assert main(["nlu", "eval", str(data), "--label-column", "kind"]) == 0
    printed = capsys.readouterr().out
    assert "[category] accuracy" in printed and "confusion" in printed
    assert main(["nlu", "eval", str(data), "--label-column", "kind", "--folds", "2"]) == 0
    assert "2-fold cross-validation" in capsys.readouterr().out


def test_eval_of_a_bad_csv_prints_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,intent\n你好,greet\n,report\n", encoding="utf-8")
    assert main(["nlu", "eval", str(bad)]) == 2
    assert f"{bad}:3:1: empty text" in capsys.readouterr().err
