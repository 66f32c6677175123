"""The admins' daily digest and weekly summary: who gets one, what it says, and keys that make reruns harmless."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy.orm import Session

from core.db import SessionFactory
from core.digest import daily_digest, due_now, run_due, weekly_summary
from core.notify import Notice, NoticeKind
from tests.core.test_stats import TZ, at, build_story
from tests.factories import make_staff
from tests.fakes import RecordingNotifier

ADMINS = ["staff:A01", "staff:A02", "staff:CD01", "staff:SA01"]


def _by_recipient(notifier: RecordingNotifier) -> dict[str, Notice]:
    notices = [n for n in notifier.notices if isinstance(n, Notice)]
    return {who: notice for (who, _, _), notice in zip(notifier.sent, notices, strict=True)}


def test_daily_digest_goes_to_each_active_admin_only(db: Session) -> None:
    story = build_story(db)
    retired = make_staff(db, "A99", "退休管理员", "community_admin", story.org.communities[0])
    retired.active = False
    db.flush()
    notifier = RecordingNotifier()
    keys = daily_digest(db, notifier, at(4, 8, 30), TZ)
    assert sorted(who for who, _, _ in notifier.sent) == ADMINS
    assert {kind for _, kind, _ in notifier.sent} == {str(NoticeKind.DAILY_DIGEST)}
    assert sorted(keys) == ["digest:A01:2026-12-03", "digest:A02:2026-12-03", "digest:CD01:2026-12-03",
                            "digest:SA01:2026-12-03"]


def test_daily_digest_reports_yesterday_for_the_admins_own_area(db: Session) -> None:
    story = build_story(db)
    notifier = RecordingNotifier()
    daily_digest(db, notifier, at(4, 8, 30), TZ)
    sent = _by_recipient(notifier)
    mine = sent["staff:A01"].data
    assert mine["date"] == "2026-12-03" and mine["region"]["code"] == "CM01"
    assert mine["totals"] == {"new": 4, "accepted": 4, "resolved": 1, "overdue": 1, "supervised": 1}
    assert [row["code"] for row in mine["rows"]] == ["CM01", "G01", "G02"]
    assert mine["overdue_total"] == 1 and mine["overdue_cases"] == [story.c["c2"].number]
    other = sent["staff:A02"].data
    assert [row["code"] for row in other["rows"]] == ["CM02", "G03", "G04"]
    assert other["totals"]["overdue"] == 1  # at midnight only c4 was late ...
    assert other["overdue_cases"] == [story.c["c4"].number, story.c["c8"].number]  # ... by 08:30 c8 too
    city = sent["staff:CD01"].data
    assert [row["code"] for row in city["rows"]] == ["C01", "S01"]
    assert city["totals"]["new"] == 7 and city["overdue_total"] == 3
    for notice in sent.values():
        json.dumps(notice.data)  # plain values only


def test_daily_digest_just_after_midnight_still_reports_the_previous_day(db: Session) -> None:
    build_story(db)
    notifier = RecordingNotifier()
    keys = daily_digest(db, notifier, at(4, 0, 5), TZ)  # 16:05 UTC on the 3rd
    assert "digest:A01:2026-12-03" in keys


def test_rerunning_a_digest_builds_the_same_keys(db: Session) -> None:
    build_story(db)
    first, second = RecordingNotifier(), RecordingNotifier()
    keys = daily_digest(db, first, at(4, 8, 30), TZ)
    assert daily_digest(db, second, at(4, 8, 31), TZ) == keys
    assert [n.key for n in first.notices] == [n.key for n in second.notices]  # type: ignore[attr-defined]
    assert len(set(keys)) == len(keys)


def test_weekly_summary_covers_last_monday_to_sunday(db: Session) -> None:
    build_story(db)
    notifier = RecordingNotifier()
    keys = weekly_summary(db, notifier, at(7, 9), TZ)  # Monday 7 December
    assert sorted(keys) == ["weekly:A01:2026-W49", "weekly:A02:2026-W49", "weekly:CD01:2026-W49",
                            "weekly:SA01:2026-W49"]
    assert weekly_summary(db, RecordingNotifier(), at(9, 15), TZ) == keys  # later in the week: same week
    sent = _by_recipient(notifier)
    mine = sent["staff:A01"].data
    assert (mine["week"], mine["start"], mine["end"]) == ("2026-W49", "2026-11-30", "2026-12-06")
    rows = {row["code"]: row for row in mine["rows"]}
    assert list(rows) == ["CM01", "G01", "G02"]
    # the week also holds c5 (opened on the 2nd, accepted late, still open)
    assert (rows["G01"]["response"], rows["G01"]["resolution"], rows["G01"]["satisfaction"]) == (0.3333, 0.3333, 1.0)
    assert rows["G02"]["satisfaction"] is None
    street = [row["code"] for row in sent["staff:SA01"].data["rows"]]
    assert street == ["S01", "CM01", "G01", "G02", "CM02", "G03", "G04"]
    city = [row["level"] for row in sent["staff:CD01"].data["rows"]]
    assert city == ["city", "street", "community", "community"]
    g04 = next(row for row in sent["staff:SA01"].data["rows"] if row["code"] == "G04")
    assert g04["response"] == 0.0  # by the end of the week c8's accept deadline had passed
    json.dumps([n.data for n in notifier.notices])  # type: ignore[attr-defined]


def test_run_due_sends_only_in_the_digest_minutes(db: Session, session_factory: SessionFactory) -> None:
    build_story(db)
    db.commit()
    assert due_now(at(7, 8, 30) + timedelta(seconds=59), TZ) == ["daily"] and due_now(at(7, 9), TZ) == ["weekly"]
    assert due_now(at(8, 9), TZ) == [] and due_now(at(7, 8, 31), TZ) == []
    notifier = RecordingNotifier()
    assert run_due(session_factory, notifier, at(4, 8, 29), TZ) == []
    assert len(run_due(session_factory, notifier, at(4, 8, 30), TZ)) == 4
    assert {kind for _, kind, _ in notifier.sent} == {str(NoticeKind.DAILY_DIGEST)}
    assert all(key.startswith("weekly:") for key in run_due(session_factory, notifier, at(7, 9), TZ))
