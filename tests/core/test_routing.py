"""Routing: gazetteer and boundary matching, duty rosters, the fallback ladder and its trace, on both databases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from core.models import GridBoundary, Region
from core.services.routing import GridRouter, MatchMethod, RouterCache, RoutingDecision
from tests.factories import Org, make_org, make_place, make_region, make_shift, make_staff

SH = ZoneInfo("Asia/Shanghai")
FRIDAY_10 = datetime(2026, 12, 4, 10, 0, tzinfo=SH)
SATURDAY_03 = datetime(2026, 12, 5, 3, 0, tzinfo=SH)
SUNDAY_10 = datetime(2026, 12, 6, 10, 0, tzinfo=SH)
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=SH)


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON polygon (lon/lat) with its south-west corner at the given point."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def add_boundary(db: Session, region: Region, geometry: dict[str, Any]) -> None:
    db.add(GridBoundary(region_id=region.id, geometry=geometry))
    db.flush()


def summary(decision: RoutingDecision) -> tuple[str | None, str | None, str | None]:
    """Grid code, region code and assignee code of a decision."""
    return (decision.grid.code if decision.grid else None, decision.region.code if decision.region else None,
            decision.assignee.staff_code if decision.assignee else None)


@pytest.fixture
def org(db: Session) -> Org:
    org = make_org(db)
    make_place(db, "幸福小区", org.grids[0], aliases=["幸福家园"])
    make_place(db, "阳光花园", org.grids[2], aliases=["阳光苑", "ＳＵＮ Ｐａｒｋ"])
    make_place(db, "东湖路", org.grids[0])  # a road shared by grids G01 and G02
    make_place(db, "东湖路", org.grids[1])
    make_place(db, "和平社区居委会", org.communities[1])
    return org


def test_gazetteer_matches_a_place_name(db: Session, org: Org) -> None:
    decision = GridRouter.load(db).route("幸福小区3栋门口的路灯", None, FRIDAY_10)
    assert summary(decision) == ("G01", "G01", "W01")
    assert decision.match is not None
    assert decision.match.via == "gazetteer: 幸福小区"
    assert decision.reason == "gazetteer matched 幸福小区 → grid G01; assigned W01 (grid_worker) at grid G01"


def test_gazetteer_matches_an_alias(db: Session, org: Org) -> None:
    match = GridRouter.load(db).grid_for("阳光苑5号楼楼下", None)
    assert match is not None
    assert (match.region.code, match.place, match.term, match.method) == ("G03", "阳光花园", "阳光苑", "gazetteer")
    assert match.confidence < 0.9  # an alias is a little less sure than the name


@pytest.mark.parametrize("address", ["幸福 小区 北门", "ｓｕｎ  park 东门", "阳光花园"])
def test_gazetteer_ignores_full_width_and_spaces(db: Session, org: Org, address: str) -> None:
    match = GridRouter.load(db).grid_for(address, None)
    assert match is not None
    assert match.region.code == ("G01" if "幸福" in address else "G03")


def test_estate_name_beats_a_road_shared_by_two_grids(db: Session, org: Org) -> None:
    make_place(db, "东湖路12号院", org.grids[1])
    router = GridRouter.load(db)
    assert router.grid_for("东湖路幸福小区南门", None).region.code == "G01"  # type: ignore[union-attr]
    assert router.grid_for("东湖路12号院", None).region.code == "G02"  # type: ignore[union-attr]


def test_shared_road_alone_goes_to_the_community_that_holds_both_grids(db: Session, org: Org) -> None:
    decision = GridRouter.load(db).route("东湖路中段有个坑", None, FRIDAY_10)
    assert summary(decision) == (None, "CM01", "A01")
    assert decision.match is not None
    assert decision.match.confidence < 0.6


def test_a_second_place_narrows_a_shared_name(db: Session, org: Org) -> None:
    make_place(db, "幸福小区", org.grids[3])  # now in G01 and G04
    make_place(db, "和平路", org.grids[1])  # G02 (CM01) and G03 (CM02)
    make_place(db, "和平路", org.grids[2])
    router = GridRouter.load(db)
    assert router.grid_for("幸福小区", None).region.code == "S01"  # type: ignore[union-attr]
    assert router.grid_for("东湖路幸福小区", None).region.code == "G01"  # type: ignore[union-attr]
    assert router.grid_for("和平社区居委会旁和平路", None).region.code == "G03"  # type: ignore[union-attr]


def test_longest_name_wins_then_lower_region_code(db: Session, org: Org) -> None:
    make_place(db, "幸福小区北苑", org.grids[3])
    make_place(db, "甲乙小区", org.grids[3])
    make_place(db, "丙丁小区", org.grids[2])
    router = GridRouter.load(db)
    assert router.grid_for("幸福小区北苑2栋", None).region.code == "G04"  # type: ignore[union-attr]
    assert router.grid_for("甲乙小区和丙丁小区之间", None).region.code == "G03"  # type: ignore[union-attr]
    assert router.grid_for("丙丁小区和甲乙小区之间", None).region.code == "G03"  # type: ignore[union-attr]


def test_community_place_starts_routing_at_the_community(db: Session, org: Org) -> None:
    decision = GridRouter.load(db).route("和平社区居委会门口", None, FRIDAY_10)
    assert summary(decision) == (None, "CM02", "A02")


@pytest.mark.parametrize("address", ["火星基地", "", None])
def test_no_match_goes_to_the_city_desk(db: Session, org: Org, address: str | None) -> None:
    decision = GridRouter.load(db).route(address, None, FRIDAY_10)
    assert summary(decision) == (None, "C01", "CD01")
    assert decision.match is None
    assert decision.reason == ("no place or boundary matched, starting at city C01; "
                               "assigned CD01 (city_admin) at city C01")


def test_point_inside_a_boundary_beats_the_address(db: Session, org: Org) -> None:
    add_boundary(db, org.grids[2], square(121.40, 31.20))
    decision = GridRouter.load(db).route("幸福小区", (31.205, 121.405), FRIDAY_10)
    assert summary(decision) == ("G03", "G03", "W03")
    assert decision.match is not None
    assert (decision.match.method, decision.match.via) == (MatchMethod.BOUNDARY, "boundary")
    assert decision.trace[0] == "boundary matched → grid G03"


def test_point_outside_every_boundary_falls_back_to_the_address(db: Session, org: Org) -> None:
    add_boundary(db, org.grids[2], square(121.40, 31.20))
    decision = GridRouter.load(db).route("幸福小区", (31.30, 121.50), FRIDAY_10)
    assert summary(decision) == ("G01", "G01", "W01")


def test_point_on_a_shared_edge_goes_to_the_lower_code(db: Session, org: Org) -> None:
    add_boundary(db, org.grids[3], square(121.41, 31.20))
    add_boundary(db, org.grids[2], square(121.40, 31.20))
    assert GridRouter.load(db).grid_for(None, (31.205, 121.41)).region.code == "G03"  # type: ignore[union-attr]


def test_grid_boundary_beats_an_enclosing_community_boundary(db: Session, org: Org) -> None:
    add_boundary(db, org.communities[1], square(121.40, 31.20, size=0.1))
    add_boundary(db, org.grids[3], {"type": "MultiPolygon", "coordinates": [square(121.42, 31.22)["coordinates"]]})
    router = GridRouter.load(db)
    assert router.grid_for(None, (31.225, 121.425)).region.code == "G04"  # type: ignore[union-attr]
    assert router.grid_for(None, (31.25, 121.45)).region.code == "CM02"  # type: ignore[union-attr]


def test_location_without_boundaries_uses_the_address(db: Session, org: Org) -> None:
    assert GridRouter.load(db).grid_for("阳光花园", (31.2, 121.4)).region.code == "G03"  # type: ignore[union-attr]


def test_swapped_coordinates_are_refused(db: Session, org: Org) -> None:
    with pytest.raises(ValueError, match="lat, lon"):
        GridRouter.load(db).grid_for(None, (121.4, 31.2))


def test_friday_night_shift_covers_early_saturday(db: Session) -> None:
    org = make_org(db, with_shifts=False)
    make_shift(db, org.grids[0], org.workers[0], "5", "22:00", "06:00")
    make_shift(db, org.grids[1], org.workers[1], "6", "22:00", "06:00")
    router = GridRouter.load(db)
    assert [s.staff_code for s in router.on_duty(org.grids[0].id, SATURDAY_03)] == ["W01"]
    assert router.on_duty(org.grids[1].id, SATURDAY_03) == []


def test_weekday_shift_is_off_on_sunday(db: Session) -> None:
    org = make_org(db, with_shifts=False)
    make_shift(db, org.grids[0], org.workers[0], "1-5", "08:00", "18:00")
    router = GridRouter.load(db)
    assert router.on_duty(org.grids[0].id, SUNDAY_10) == []
    assert [s.staff_code for s in router.on_duty(org.grids[0].id, MONDAY_10)] == ["W01"]


def test_shift_outside_its_dates_is_off(db: Session) -> None:
    org = make_org(db, with_shifts=False)
    make_shift(db, org.grids[0], org.workers[0]).valid_to = date(2026, 12, 3)
    make_shift(db, org.grids[0], org.workers[1]).valid_from = date(2026, 12, 4)
    db.flush()
    assert [s.staff_code for s in GridRouter.load(db).on_duty(org.grids[0].id, FRIDAY_10)] == ["W02"]


def test_on_duty_uses_the_deployment_zone(db: Session) -> None:
    org = make_org(db, with_shifts=False)
    make_shift(db, org.grids[0], org.workers[0], "1-5", "08:00", "18:00")
    utc_0130 = datetime(2026, 12, 4, 1, 30, tzinfo=ZoneInfo("UTC"))  # 09:30 in Shanghai
    assert [s.staff_code for s in GridRouter.load(db).on_duty(org.grids[0].id, utc_0130)] == ["W01"]
    assert GridRouter.load(db, tz=ZoneInfo("UTC")).on_duty(org.grids[0].id, utc_0130) == []


def test_on_duty_orders_by_shift_start_then_code_and_skips_inactive(db: Session) -> None:
    org = make_org(db, with_shifts=False)
    grid = org.grids[0]
    make_shift(db, grid, org.workers[2], "1-7", "09:00", "18:00")
    make_shift(db, grid, org.workers[1], "1-7", "08:00", "18:00")
    make_shift(db, grid, org.workers[0], "1-7", "09:00", "18:00")
    make_shift(db, grid, org.workers[3], "1-7", "09:00", "18:00")
    org.workers[3].active = False
    db.flush()
    assert [s.staff_code for s in GridRouter.load(db).on_duty(grid.id, FRIDAY_10)] == ["W02", "W01", "W03"]


def test_on_duty_needs_an_aware_time(db: Session, org: Org) -> None:
    with pytest.raises(ValueError, match="aware"):
        GridRouter.load(db).on_duty(org.grids[0].id, datetime(2026, 12, 4, 10, 0))


LADDER = ["grid", "community", "street", "city"]


@pytest.mark.parametrize(("on_duty", "expected", "skipped"), [
    (LADDER, ("G01", "G01", "W01"), []),
    (LADDER[1:], ("G01", "CM01", "A01"), ["no grid_worker on duty at grid G01"]),
    (LADDER[2:], ("G01", "S01", "SA01"), ["no grid_worker on duty at grid G01", "no staff on duty at community CM01"]),
    (LADDER[3:], ("G01", "C01", "CD01"), ["no grid_worker on duty at grid G01", "no staff on duty at community CM01",
                                          "no staff on duty at street S01"]),
])
def test_falls_back_up_the_ladder(db: Session, on_duty: list[str], expected: tuple[str, ...],
                                  skipped: list[str]) -> None:
    org = make_org(db, with_shifts=False)
    make_place(db, "幸福小区", org.grids[0])
    staffed = {"grid": (org.grids[0], org.workers[0]), "community": (org.communities[0], org.community_admins[0]),
               "street": (org.street, org.street_admin), "city": (org.city, org.city_desk)}
    for level in on_duty:
        make_shift(db, *staffed[level])
    decision = GridRouter.load(db).route("幸福小区", None, FRIDAY_10)
    assert summary(decision) == expected
    assert list(decision.trace[1:-1]) == skipped


def test_nobody_on_duty_leaves_the_case_unassigned_at_the_city(db: Session) -> None:
    org = make_org(db, with_shifts=False)
    make_place(db, "幸福小区", org.grids[0])
    decision = GridRouter.load(db).route("幸福小区", None, FRIDAY_10)
    assert summary(decision) == ("G01", "C01", None)
    assert decision.trace[-1] == "nobody on duty up to city C01; left unassigned"


def test_a_helper_at_the_grid_does_not_take_ordinary_reports(db: Session, org: Org) -> None:
    helper = make_staff(db, "H01", "帮办员1", "helper", org.grids[0])
    make_shift(db, org.grids[0], helper)
    assert summary(GridRouter.load(db).route("幸福小区", None, FRIDAY_10, category="municipal"))[2] == "W01"


@pytest.mark.parametrize(("helper_level", "expected"), [("grid", "H01"), ("community", "H01"), (None, "W01")])
def test_enterprise_requests_prefer_a_helper(db: Session, org: Org, helper_level: str | None,
                                             expected: str) -> None:
    if helper_level is not None:
        region = org.grids[0] if helper_level == "grid" else org.communities[0]
        make_shift(db, region, make_staff(db, "H01", "帮办员1", "helper", region))
    decision = GridRouter.load(db).route("幸福小区", None, FRIDAY_10, category="enterprise")
    assert summary(decision)[2] == expected


def test_explicit_preferred_roles_override_the_category(db: Session, org: Org) -> None:
    helper = make_staff(db, "H01", "帮办员1", "helper", org.grids[0])
    make_shift(db, org.grids[0], helper)
    decision = GridRouter.load(db).route("幸福小区", None, FRIDAY_10, category="enterprise", prefer_roles=())
    assert summary(decision)[2] == "W01"


def test_same_inputs_give_the_same_decision(db: Session, org: Org) -> None:
    make_place(db, "幸福小区", org.grids[3])  # the same name in two grids
    make_shift(db, org.grids[0], make_staff(db, "W09", "网格员9", "grid_worker", org.grids[0]))
    first = GridRouter.load(db).route("幸福小区 东湖路", None, FRIDAY_10)
    for _ in range(3):
        again = GridRouter.load(db).route("幸福小区 东湖路", None, FRIDAY_10)
        assert (summary(again), again.reason, again.trace) == (summary(first), first.reason, first.trace)


def test_ladder_and_next_level(db: Session, org: Org) -> None:
    router = GridRouter.load(db)
    assert [r.code for r in router.ladder(org.grids[2])] == ["G03", "CM02", "S01", "C01"]
    assert router.next_level(org.grids[2]).code == "CM02"  # type: ignore[union-attr]
    assert router.next_level(org.street.id).code == "C01"  # type: ignore[union-attr]
    assert router.next_level(org.city) is None


def test_place_names_list_names_and_aliases_once(db: Session, org: Org) -> None:
    assert GridRouter.load(db).place_names() == sorted(
        ["幸福小区", "幸福家园", "阳光花园", "阳光苑", "ＳＵＮ Ｐａｒｋ", "东湖路", "和平社区居委会"])


def test_cache_keeps_the_index_until_invalidated(db: Session, org: Org) -> None:
    cache = RouterCache(tz=SH)
    assert cache.router(db).grid_for("星河湾", None) is None
    make_place(db, "星河湾", org.grids[3])
    assert cache.router(db).grid_for("星河湾", None) is None
    cache.invalidate()
    assert cache.router(db).grid_for("星河湾", None).region.code == "G04"  # type: ignore[union-attr]


def test_empty_organisation_routes_nowhere(db: Session) -> None:
    decision = GridRouter.load(db).route("幸福小区", None, FRIDAY_10)
    assert summary(decision) == (None, None, None)
    assert "unassigned" in decision.reason


def test_unreadable_boundary_is_skipped(db: Session, org: Org) -> None:
    add_boundary(db, org.grids[0], {"type": "Polygon", "coordinates": "nonsense"})
    add_boundary(db, org.grids[2], square(121.40, 31.20))
    assert GridRouter.load(db).grid_for(None, (31.205, 121.405)).region.code == "G03"  # type: ignore[union-attr]


def test_region_outside_the_org_tree_is_its_own_top(db: Session) -> None:
    lone = make_region(db, "X01", "孤岛", "grid")
    make_place(db, "孤岛小区", lone)
    decision = GridRouter.load(db).route("孤岛小区", None, FRIDAY_10)
    assert summary(decision) == ("X01", "X01", None)


def test_the_users_qr_code_grid_is_used_when_nothing_matches(db: Session, org: Org) -> None:
    router = GridRouter.load(db, tz=SH)
    decision = router.route("我家楼下", None, FRIDAY_10, home_grid_id=org.grids[2].id)
    assert decision.grid is not None and decision.grid.code == "G03"
    assert decision.assignee is not None and decision.assignee.staff_code == "W03"
    assert "QR-code grid" in decision.reason


def test_a_matching_place_beats_the_qr_code_grid(db: Session, org: Org) -> None:
    decision = GridRouter.load(db, tz=SH).route("幸福小区3栋", None, FRIDAY_10, home_grid_id=org.grids[2].id)
    assert decision.grid is not None and decision.grid.code == "G01"
