"""IMACS definition of improvement and the 2016 ACR/EULAR Total Improvement Score.

Expected numbers are hand-computed from the published rules:
- IMACS: Rider LG et al. Arthritis Rheum 2004;50:2281-90; Oddis CV et al. Arthritis Rheum
  2005;52:2607-15 (>= 3 of 6 improved >= 20 %, <= 2 worsened >= 25 %, MMT not worsened).
- ACR/EULAR: Aggarwal R et al. Arthritis Rheumatol 2017;69:898-910; point table as printed in
  Rider LG et al. Ann Rheum Dis 2017;76:782-91, Table 3 (PMC5577002); adult thresholds 20/40/60.
"""
from __future__ import annotations

import pytest

from pro_app.outcomes import (
    TIS_POINTS,
    Measurement,
    imacs_improvement,
    measure_change,
    tis_category,
    tis_points,
    total_improvement_score,
)


def core(PhGA=50.0, PtGA=50.0, HAQ=1.0, MMT=60.0, extramuscular=40.0, enzyme=1000.0, mmt_max=80.0):
    values = {"PhGA": PhGA, "PtGA": PtGA, "HAQ": HAQ, "MMT": MMT, "extramuscular": extramuscular, "enzyme": enzyme}
    ranges = {"PhGA": 100.0, "PtGA": 100.0, "HAQ": 3.0, "MMT": mmt_max, "extramuscular": 100.0, "enzyme": None}
    return {m: Measurement(v, 0.0, ranges[m]) for m, v in values.items()}


def names(drivers):
    return sorted(d.measure for d in drivers)


# --------------------------------------------------------------------------- IMACS


def test_imacs_three_measures_improved_by_exactly_20_percent_is_improvement():
    result = imacs_improvement(core(), core(PhGA=40, PtGA=40, HAQ=0.8))  # each (50-40)/50 = 20 %
    assert result.met is True
    assert names(result.improved) == ["HAQ", "PhGA", "PtGA"]
    assert {d.measure: d.improvement_pct for d in result.improved}["HAQ"] == 20.0
    assert result.worsened == [] and result.reason is None


def test_imacs_19_9_percent_does_not_count_as_improved():
    result = imacs_improvement(core(), core(PhGA=40, PtGA=40, HAQ=0.801))  # HAQ: 0.199/1.0 = 19.9 %
    assert result.met is False
    assert names(result.improved) == ["PhGA", "PtGA"]


def test_imacs_worsening_of_exactly_25_percent_counts_and_three_worsened_fail():
    # Improved: PhGA, HAQ, MMT (60 -> 72 = +20 %). Worsened by exactly 25 %: PtGA 40 -> 50,
    # extramuscular 40 -> 50, CK 1000 -> 1250.
    baseline = core(PtGA=40)
    follow = core(PhGA=40, HAQ=0.8, MMT=72, PtGA=50, extramuscular=50, enzyme=1250)
    result = imacs_improvement(baseline, follow)
    assert names(result.improved) == ["HAQ", "MMT", "PhGA"]
    assert names(result.worsened) == ["PtGA", "enzyme", "extramuscular"]
    assert {d.measure: d.improvement_pct for d in result.worsened}["enzyme"] == -25.0
    assert result.met is False


def test_imacs_two_worsened_is_still_improvement():
    follow = core(PhGA=40, HAQ=0.8, MMT=72, extramuscular=50, enzyme=1250)
    result = imacs_improvement(core(), follow)
    assert names(result.worsened) == ["enzyme", "extramuscular"]
    assert result.met is True


def test_imacs_worsening_just_under_25_percent_is_not_worsened():
    follow = core(PhGA=40, HAQ=0.8, MMT=72, PtGA=62.45, extramuscular=49.9, enzyme=1249)  # 24.9 %, 24.75 %, 24.9 %
    result = imacs_improvement(core(), follow)
    assert result.worsened == []
    assert result.met is True


def test_imacs_mmt_worsened_fails_whatever_else_improved():
    # MMT 60 -> 45 is 25 % worse; four other measures improved by 50 %.
    follow = core(PhGA=25, PtGA=25, HAQ=0.5, extramuscular=20, MMT=45)
    result = imacs_improvement(core(), follow)
    assert len(result.improved) == 4
    assert names(result.worsened) == ["MMT"]
    assert result.met is False


def test_imacs_enzyme_rise_is_reported_with_its_percent():
    result = imacs_improvement(core(), core(PhGA=40, PtGA=40, HAQ=0.8, enzyme=4000))
    assert result.met is True  # one worsened measure, not the MMT
    assert [(d.measure, d.improvement_pct) for d in result.worsened] == [("enzyme", -300.0)]


def test_imacs_missing_measure_is_named_with_reasons_in_both_languages():
    follow = core(PhGA=40, PtGA=40, HAQ=0.8)
    follow["HAQ"] = Measurement(None, 0.0, 3.0, reason={"en": "no completed form (HAQ)", "sv": "inget ifyllt formulär (HAQ)"})
    result = imacs_improvement(core(), follow)
    assert result.met is None
    assert [m.measure for m in result.missing] == ["HAQ"]
    assert "follow-up" in result.missing[0].reason["en"] and "no completed form (HAQ)" in result.missing[0].reason["en"]
    assert "uppföljningsbesöket" in result.missing[0].reason["sv"]
    assert "HAQ" in result.reason["en"] and "HAQ" in result.reason["sv"]


def test_imacs_measure_absent_from_input_is_missing_at_baseline():
    # Two measures improved; the enzyme, absent at baseline, could be the third or not: undecided.
    baseline = core()
    del baseline["enzyme"]
    result = imacs_improvement(baseline, core(PhGA=40, PtGA=40))
    assert result.met is None and "baseline" in result.missing[0].reason["en"]


def test_baseline_zero_unchanged_is_unchanged_and_a_rise_is_worsening():
    still = measure_change("extramuscular", Measurement(0.0, 0, 100), Measurement(0.0, 0, 100))
    assert still.from_zero and still.relative_improvement_pct is None and still.absolute_improvement_pct == 0.0
    # Extramuscular 0 -> 10: no relative %, counted as worsened beyond 25 %.
    result = imacs_improvement(core(extramuscular=0), core(PhGA=40, PtGA=40, HAQ=0.8, extramuscular=10))
    assert [(d.measure, d.improvement_pct) for d in result.worsened] == [("extramuscular", None)]
    assert result.met is True
    unchanged = imacs_improvement(core(extramuscular=0), core(PhGA=40, PtGA=40, HAQ=0.8, extramuscular=0))
    assert unchanged.worsened == [] and unchanged.met is True


def test_mmt_direction_higher_is_better():
    change = measure_change("MMT", Measurement(60, 0, 80), Measurement(66, 0, 80))
    assert change.relative_improvement_pct == 10.0  # 6 / 60
    assert change.absolute_improvement_pct == 7.5  # 6 / 80


# --------------------------------------------------------------------------- ACR/EULAR points


@pytest.mark.parametrize(
    "measure, pct, points",
    [
        ("PhGA", -30, 0), ("PhGA", 5, 0), ("PhGA", 5.01, 7.5), ("PhGA", 15, 7.5), ("PhGA", 15.01, 15),
        ("PhGA", 25, 15), ("PhGA", 25.01, 17.5), ("PhGA", 40, 17.5), ("PhGA", 40.01, 20),
        ("PtGA", 5, 0), ("PtGA", 10, 2.5), ("PtGA", 20, 5), ("PtGA", 30, 7.5), ("PtGA", 41, 10),
        ("MMT", -10, 0), ("MMT", 2, 0), ("MMT", 2.01, 10), ("MMT", 10, 10), ("MMT", 10.01, 20),
        ("MMT", 20, 20), ("MMT", 20.01, 27.5), ("MMT", 30, 27.5), ("MMT", 30.01, 32.5),
        ("HAQ", 5, 0), ("HAQ", 10, 5), ("HAQ", 20, 7.5), ("HAQ", 40, 7.5), ("HAQ", 40.01, 10),
        ("enzyme", -200, 0), ("enzyme", 5, 0), ("enzyme", 10, 2.5), ("enzyme", 20, 5), ("enzyme", 40, 7.5), ("enzyme", 90, 7.5),
        ("extramuscular", 5, 0), ("extramuscular", 10, 7.5), ("extramuscular", 20, 12.5),
        ("extramuscular", 40, 15), ("extramuscular", 40.01, 20),
    ],
)
def test_tis_point_table_edges(measure, pct, points):
    assert tis_points(measure, pct) == points


def test_tis_maxima_add_up_to_100():
    assert sum(rows[-1][1] for rows in TIS_POINTS.values()) == 100.0


@pytest.mark.parametrize("total, category", [(0, "none"), (19.9, "none"), (20, "minimal"), (39.9, "minimal"),
                                             (40, "moderate"), (59.9, "moderate"), (60, "major"), (100, "major")])
def test_tis_adult_thresholds(total, category):
    assert tis_category(total) == category


def test_tis_hand_computed_moderate_improvement():
    baseline = core(PhGA=60, PtGA=60, HAQ=1.5, MMT=60, extramuscular=30, enzyme=1000)
    follow = core(PhGA=30, PtGA=50, HAQ=1.2, MMT=68, extramuscular=20, enzyme=700)
    result = total_improvement_score(baseline, follow)
    points = {d.measure: (d.improvement_pct, d.points) for d in result.points}
    assert points == {
        "PhGA": (30.0, 17.5),  # 30 mm of 100
        "PtGA": (10.0, 2.5),  # 10 mm of 100
        "HAQ": (10.0, 5.0),  # 0.3 of 3
        "MMT": (10.0, 10.0),  # 8 of 80
        "extramuscular": (10.0, 7.5),  # 10 mm of 100
        "enzyme": (30.0, 7.5),  # relative: 300 / 1000
    }
    assert result.total == 50.0 and result.category == "moderate"
    assert result.category_label["sv"] == "Måttlig förbättring"


def test_tis_exactly_20_is_minimal_and_60_is_major():
    minimal = total_improvement_score(core(), core(PhGA=30, PtGA=30))  # 20 % each: 15 + 5
    assert (minimal.total, minimal.category) == (20.0, "minimal")
    major = total_improvement_score(core(), core(PhGA=5, MMT=80, enzyme=100))  # 45 %: 20; 25 %: 27.5; 90 %: 7.5 ...
    assert major.total == 20 + 27.5 + 7.5
    major = total_improvement_score(core(MMT=40), core(PhGA=5, MMT=66, enzyme=100))  # MMT 26/80 = 32.5 % -> 32.5
    assert (major.total, major.category) == (60.0, "major")


def test_tis_worsening_scores_zero_and_is_listed():
    result = total_improvement_score(core(), core(PhGA=30, PtGA=30, enzyme=3000, MMT=50))
    assert result.total == 20.0
    assert names(result.worsened) == ["MMT", "enzyme"]
    assert names(result.improved) == ["PhGA", "PtGA"]


def test_tis_uses_the_mmt_range_of_the_scale_used():
    # Bilateral MMT-8 (0-150): +15 is 10 % -> 10 points; on 0-80 it would be 18.75 % -> 20.
    result = total_improvement_score(core(MMT=100, mmt_max=150), core(MMT=115, mmt_max=150))
    assert {d.measure: d.points for d in result.points}["MMT"] == 10.0


def test_tis_missing_measure_is_not_computable():
    follow = core()
    follow["MMT"] = Measurement(None, 0, 80, reason={"en": "1 muscle group(s) not graded", "sv": "1 muskelgrupp(er) ej graderade"})
    result = total_improvement_score(core(), follow)
    assert result.total is None and result.category is None
    assert [m.measure for m in result.missing] == ["MMT"]
    assert "muscle group" in result.missing[0].reason["en"] and "muskelgrupp" in result.missing[0].reason["sv"]


def test_mmt_measured_on_different_scales_is_not_comparable():
    change = measure_change("MMT", Measurement(60, 0, 80), Measurement(120, 0, 150))
    assert not change.computable and "different scales" in change.reason["en"]


# --------------------------------------------------------------------------- exact boundaries, Table 3 row by row

from fractions import Fraction  # noqa: E402

# Rider LG et al. Ann Rheum Dis 2017;76:782-91, Table 3 (adult DM/PM uses the same points):
# "Worsening to 5 % improvement" 0, ">5 % to 15 %", ">15 % to 25 %", ">25 % to 40 %", ">40 %";
# the MMT bands are worsening to 2 %, >2-10, >10-20, >20-30, >30 %.
TABLE_3 = {
    "PhGA": ((5, 15, 25, 40), (0, 7.5, 15, 17.5, 20)),
    "PtGA": ((5, 15, 25, 40), (0, 2.5, 5, 7.5, 10)),
    "MMT": ((2, 10, 20, 30), (0, 10, 20, 27.5, 32.5)),
    "HAQ": ((5, 15, 25, 40), (0, 5, 7.5, 7.5, 10)),
    "enzyme": ((5, 15, 25, 40), (0, 2.5, 5, 7.5, 7.5)),
    "extramuscular": ((5, 15, 25, 40), (0, 7.5, 12.5, 15, 20)),
}
JUST = Fraction(1, 10**9)


@pytest.mark.parametrize("measure", sorted(TABLE_3))
def test_tis_every_band_edge_is_decided_on_the_exact_percentage(measure):
    edges, points = TABLE_3[measure]
    assert tis_points(measure, Fraction(-100)) == 0
    for k, edge in enumerate(edges):
        assert tis_points(measure, Fraction(edge)) == points[k], (measure, edge)  # "to 5 %" includes 5 %
        assert tis_points(measure, Fraction(edge) + JUST) == points[k + 1], (measure, edge)  # "> 5 %"
    assert tis_points(measure, Fraction(10**6)) == points[-1]


@pytest.mark.parametrize("threshold, below, at", [(20, "none", "minimal"), (40, "minimal", "moderate"),
                                                   (60, "moderate", "major")])
def test_tis_thresholds_are_decided_on_the_exact_total(threshold, below, at):
    assert tis_category(Fraction(threshold) - JUST) == below
    assert tis_category(Fraction(threshold)) == at


def test_absolute_change_uses_the_width_of_a_range_that_does_not_start_at_0():
    # A measure on 10-110: 60 -> 50 is 10 of a width of 100 = 10 % (not 10 / 110).
    change = measure_change("PhGA", Measurement(60, 10, 110), Measurement(50, 10, 110))
    assert change.absolute_exact == 10 and change.relative_exact == Fraction(50, 3)


def test_mmt_rising_from_0_is_an_improvement_beyond_every_threshold():
    # Baseline 0 (see outcomes.relative_change): a rise of a higher-is-better measure is +inf.
    result = imacs_improvement(core(MMT=0), core(MMT=8, PhGA=40, PtGA=40))
    assert names(result.improved) == ["MMT", "PhGA", "PtGA"] and result.met is True
    change = measure_change("MMT", Measurement(0, 0, 80), Measurement(8, 0, 80))
    assert change.from_zero and change.relative_improvement_pct is None and change.absolute_exact == 10
    falling = measure_change("MMT", Measurement(0, 0, 80), Measurement(0, 0, 80))
    assert falling.from_zero and falling.absolute_exact == 0


def test_a_measure_missing_only_at_follow_up_says_so():
    follow = core()
    follow["PtGA"] = Measurement(None, 0, 100, reason={"en": "the scale was not marked", "sv": "skalan markerades inte"})
    change = measure_change("PtGA", core()["PtGA"], follow["PtGA"])
    assert change.baseline == 50 and change.follow_up is None
    assert "missing at the follow-up visit: the scale was not marked" in change.reason["en"]
    assert "saknas vid uppföljningsbesöket: skalan markerades inte" in change.reason["sv"]


# --------------------------------------------------------------------------- decided despite a missing measure


def missing(measure, low=0.0, high=100.0):
    return Measurement(None, low, high, reason={"en": "not recorded", "sv": "inte registrerat"})


def test_imacs_missing_measure_that_could_be_the_third_improved_is_undecided():
    follow = core(PhGA=40, PtGA=40)
    follow["extramuscular"] = missing("extramuscular")
    result = imacs_improvement(core(), follow)
    assert result.met is None and result.note is None
    assert "Extramuscular global activity" in result.reason["en"]


def test_imacs_met_whatever_a_missing_non_mmt_measure_is():
    # Three improved, none worse: even a worsened fourth leaves it met.
    follow = core(PhGA=40, PtGA=40, HAQ=0.8)
    follow["extramuscular"] = missing("extramuscular")
    result = imacs_improvement(core(), follow)
    assert result.met is True and [m.measure for m in result.missing] == ["extramuscular"]
    assert result.note["en"].startswith("Met whatever") and result.note["sv"].startswith("Uppfyllt oavsett")


def test_imacs_missing_mmt_could_worsen_so_it_is_undecided():
    follow = core(PhGA=40, PtGA=40, HAQ=0.8)
    follow["MMT"] = missing("MMT", 0, 80)
    assert imacs_improvement(core(), follow).met is None  # an MMT worsened by >= 25 % fails it


def test_imacs_not_met_whatever_the_missing_measure_is():
    follow = core()
    follow["HAQ"] = missing("HAQ", 0, 3)
    result = imacs_improvement(core(), follow)
    assert result.met is False and result.note["en"].startswith("Not met whatever")
    assert result.note["sv"].startswith("Inte uppfyllt oavsett")


def test_imacs_a_third_worsened_missing_measure_decides_not_met_only_if_it_must_worsen():
    # Three improved, two worsened: a missing sixth that could be worsened leaves it open.
    baseline, follow = core(), core(PhGA=40, PtGA=40, HAQ=0.8, extramuscular=50, enzyme=1250)
    follow["MMT"] = Measurement(None, 0, 80, reason={"en": "x", "sv": "x"})
    assert imacs_improvement(baseline, follow).met is None


# The edges of what a missing value could do: the extreme changes it allows land exactly on
# the IMACS thresholds (20 % improved, 25 % worsened count). Baseline known, follow-up missing
# anywhere on the scale given; the rest of the core set decides how much the edge matters.
def _with_edge(follow: dict, baseline_value: float, low: float, high: float):
    baseline = core()
    baseline["extramuscular"] = Measurement(baseline_value, low, high)
    follow["extramuscular"] = Measurement(None, low, high, reason={"en": "x", "sv": "x"})
    return imacs_improvement(baseline, follow).met


def test_imacs_a_missing_value_that_can_reach_exactly_20_percent_could_be_improved():
    two_improved = core(PhGA=40, PtGA=40)
    assert _with_edge(dict(two_improved), 50, 40, 60) is None  # -20 % .. +20 %: improved or not
    assert _with_edge(dict(two_improved), 50, 30, 40) is True  # +20 % .. +40 %: improved whatever it is
    assert _with_edge(dict(two_improved), 50, 40.01, 60) is False  # never quite 20 %


def test_imacs_a_missing_value_that_can_reach_exactly_25_percent_worse_could_be_worsened():
    # Three improved, two worsened (PtGA 50 -> 62.5 and CK 1000 -> 1250, exactly 25 % each).
    three_and_two = core(PhGA=40, HAQ=0.8, MMT=75, PtGA=62.5, enzyme=1250)
    assert _with_edge(dict(three_and_two), 40, 40, 50) is None  # 0 % .. -25 %: a third worsening or not
    assert _with_edge(dict(three_and_two), 40, 40, 49.9) is True  # never quite 25 % worse
    assert _with_edge(dict(three_and_two), 40, 50, 60) is False  # -25 % .. -50 %: worsened whatever it is
    assert _with_edge(dict(three_and_two), 40, 50.1, 60) is False


def test_tis_missing_measure_gives_the_range_of_totals_and_a_decided_category():
    # Known: PhGA 60 -> 30 (30 % -> 17.5), PtGA 60 -> 50 (10 % -> 2.5), MMT 60 -> 68 (10 % -> 10),
    # extramuscular 30 -> 20 (10 % -> 7.5), CK 1000 -> 700 (30 % -> 7.5) = 45; HAQ missing at
    # follow-up (1.5 at baseline, 0-3): -50 % .. +50 % of the range -> 0 .. 10 points: 45 .. 55.
    baseline = core(PhGA=60, PtGA=60, HAQ=1.5, MMT=60, extramuscular=30, enzyme=1000)
    follow = core(PhGA=30, PtGA=50, MMT=68, extramuscular=20, enzyme=700)
    follow["HAQ"] = missing("HAQ", 0, 3)
    result = total_improvement_score(baseline, follow)
    assert (result.total, result.total_min, result.total_max) == (None, 45.0, 55.0)
    assert result.category == "moderate" and result.category_label["sv"] == "Måttlig förbättring"
    assert "45" in result.note["en"] and "55" in result.note["en"] and "45" in result.note["sv"]
    haq = next(d for d in result.points if d.measure == "HAQ")
    assert (haq.points, haq.points_min, haq.points_max) == (None, 0.0, 10.0)


def test_tis_missing_measure_that_spans_a_threshold_is_not_computable():
    baseline = core(PhGA=60, PtGA=60, HAQ=1.5, MMT=60, extramuscular=30, enzyme=1000)
    follow = core(PhGA=30, PtGA=50, MMT=68, extramuscular=20, enzyme=1000)  # 37.5 known
    follow["HAQ"] = missing("HAQ", 0, 3)
    result = total_improvement_score(baseline, follow)
    assert (result.total_min, result.total_max, result.category) == (37.5, 47.5, None)
    assert "37.5" in result.reason["en"] and "47,5" in result.reason["sv"]


def test_tis_missing_at_both_visits_spans_the_whole_band_range():
    # Nothing known about the MMT at either visit: anything from worsened to > 30 % of any range.
    baseline, follow = core(), core()
    baseline["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    follow["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    result = total_improvement_score(baseline, follow)
    mmt = next(d for d in result.points if d.measure == "MMT")
    assert (mmt.points_min, mmt.points_max) == (0.0, 32.5)
    assert imacs_improvement(baseline, follow).met is False  # nothing else improved


def test_tis_missing_mmt_takes_the_range_of_the_visit_that_has_it():
    # Bilateral MMT-8 at baseline (100 of 150); follow-up missing: -66.7 % .. +33.3 % -> 0 .. 32.5 points.
    baseline, follow = core(MMT=100, mmt_max=150), core()
    follow["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    mmt = next(d for d in total_improvement_score(baseline, follow).points if d.measure == "MMT")
    assert (mmt.points_min, mmt.points_max) == (0.0, 32.5)
    baseline80 = core(MMT=70)  # 70 of 80: -87.5 % .. +12.5 % -> 0 .. 20
    mmt80 = next(d for d in total_improvement_score(baseline80, follow).points if d.measure == "MMT")
    assert (mmt80.points_min, mmt80.points_max) == (0.0, 20.0)


def test_missing_enzyme_at_follow_up_could_fall_by_anything_up_to_100_percent():
    follow = core()
    follow["enzyme"] = Measurement(None, reason={"en": "x", "sv": "x"})
    enzyme = next(d for d in total_improvement_score(core(), follow).points if d.measure == "enzyme")
    assert (enzyme.points_min, enzyme.points_max) == (0.0, 7.5)
    missing_base = core()
    missing_base["enzyme"] = Measurement(None, reason={"en": "x", "sv": "x"})
    enzyme = next(d for d in total_improvement_score(missing_base, core()).points if d.measure == "enzyme")
    assert (enzyme.points_min, enzyme.points_max) == (0.0, 7.5)


def test_a_measurement_starts_at_0_unless_told():
    # Measurement's scale_min defaults to 0: PhGA 50 -> 40 on 0-100 is 10 % of the range.
    assert measure_change("PhGA", Measurement(50, scale_max=100), Measurement(40, scale_max=100)).absolute_exact == 10


def test_a_missing_measure_is_not_from_zero_and_says_where_its_percent_comes_from():
    follow = core()
    follow["PtGA"] = missing("PtGA")
    change = measure_change("PtGA", core()["PtGA"], follow["PtGA"])
    assert change.from_zero is False and change.relative_improvement_pct is None
    assert change.tis_basis == "range"
    assert measure_change("enzyme", core()["enzyme"], core()["enzyme"]).tis_basis == "baseline"


def test_a_measure_on_different_scales_at_the_two_visits_could_be_anything():
    # MMT-8 unilateral (0-80) at baseline, bilateral (0-150) at follow-up: not comparable, so
    # it could be the worsened MMT that fails IMACS, or worth anything from 0 to 32.5 points.
    baseline, follow = core(), core(PhGA=40, PtGA=40, HAQ=0.8)
    follow["MMT"] = Measurement(120, 0, 150)
    assert imacs_improvement(baseline, follow).met is None
    mmt = next(d for d in total_improvement_score(baseline, follow).points if d.measure == "MMT")
    assert (mmt.points, mmt.points_min, mmt.points_max) == (None, 0.0, 32.5)
    # Three improved without the MMT and nothing else worse: only the MMT's status decides.
    follow_ok = core(PhGA=40, PtGA=40, HAQ=0.8, MMT=72)  # with a comparable MMT it is met
    assert imacs_improvement(baseline, follow_ok).met is True


def test_a_missing_measures_best_case_lands_exactly_on_a_band_edge():
    # HAQ 1.2 at baseline, missing at follow-up: at best 0, a change of 1.2 / 3 = exactly 40 %:
    # ">25 % to 40 %" -> 7.5 points, not the 10 of ">40 %".
    follow = core()
    follow["HAQ"] = missing("HAQ", 0, 3)
    haq = next(d for d in total_improvement_score(core(HAQ=1.2), follow).points if d.measure == "HAQ")
    assert (haq.points_min, haq.points_max) == (0.0, 7.5)
    # The MMT (higher is better) at 56 of 80, missing at follow-up: at best 80, +30 % exactly -> 27.5.
    follow_mmt = core()
    follow_mmt["MMT"] = missing("MMT", 0, 80)
    mmt = next(d for d in total_improvement_score(core(MMT=56), follow_mmt).points if d.measure == "MMT")
    assert (mmt.points_min, mmt.points_max) == (0.0, 27.5)
    # Missing at baseline instead: the MMT 24 at follow-up could be +30 % of the range from a baseline of 0.
    base_mmt = core()
    base_mmt["MMT"] = missing("MMT", 0, 80)
    mmt = next(d for d in total_improvement_score(base_mmt, core(MMT=24)).points if d.measure == "MMT")
    assert (mmt.points_min, mmt.points_max) == (0.0, 27.5)


def test_a_missing_measure_on_a_range_that_does_not_start_at_0():
    # Baseline 55 on 10-110, follow-up missing: at best 10, a change of 45 of a width of 100 = 45 % -> 20
    # (of a width of 120 it would be 37.5 % -> 17.5).
    follow = core()
    follow["PhGA"] = Measurement(None, 10, 110, reason={"en": "x", "sv": "x"})
    baseline = core()
    baseline["PhGA"] = Measurement(55, 10, 110)
    phga = next(d for d in total_improvement_score(baseline, follow).points if d.measure == "PhGA")
    assert (phga.points_min, phga.points_max) == (0.0, 20.0)


def test_a_missing_enzyme_could_fall_to_0_so_a_low_baseline_can_still_improve_by_20_percent():
    # CK 1.2 at baseline, missing at follow-up: anything from 0 (100 % better) up; with two other
    # measures improved the enzyme could be the third: undecided.
    follow = core(PhGA=40, PtGA=40)
    follow["enzyme"] = Measurement(None, reason={"en": "x", "sv": "x"})
    assert imacs_improvement(core(enzyme=1.2), follow).met is None


def test_an_mmt_missing_at_both_visits_without_a_scale_could_still_worsen():
    # Three improved; nothing known about the MMT at either visit, not even its scale: it could be
    # the worsened MMT that fails IMACS, or not.
    baseline, follow = core(), core(PhGA=40, PtGA=40, HAQ=0.8)
    baseline["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    follow["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    assert imacs_improvement(baseline, follow).met is None
    follow_worse = core(PhGA=40, PtGA=40, HAQ=0.8, extramuscular=50, enzyme=1250)  # two worsened already
    follow_worse["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    assert imacs_improvement(baseline, follow_worse).met is None
    nothing = core()
    nothing["MMT"] = Measurement(None, reason={"en": "x", "sv": "x"})
    assert imacs_improvement(baseline, nothing).met is False


def test_the_scale_shown_comes_from_the_visit_that_has_a_value():
    # An enzyme missing at baseline but measured at follow-up keeps its unit and decimals.
    follow = Measurement(Fraction(1234, 100), unit="µkat/L", decimals=2, enzyme="CK", unit_code="ukat_L")
    change = measure_change("enzyme", Measurement(None, reason={"en": "x", "sv": "x"}), follow)
    assert (change.follow_up, change.unit, change.decimals, change.enzyme) == (12.34, "µkat/L", 2, "CK")


def test_a_measure_missing_at_baseline_could_have_improved_only_down_to_its_follow_up():
    # PhGA missing at baseline, 90 mm at follow-up: at best the baseline was 100: 10 % of the range -> 7.5.
    baseline = core()
    baseline["PhGA"] = missing("PhGA")
    phga = next(d for d in total_improvement_score(baseline, core(PhGA=90)).points if d.measure == "PhGA")
    assert (phga.points_min, phga.points_max) == (0.0, 7.5)


def test_an_enzyme_missing_at_both_visits_still_names_the_enzyme():
    no_unit = {"en": "the unit of CK was not recorded", "sv": "enheten för CK registrerades inte"}
    change = measure_change("enzyme", Measurement(None, reason=no_unit, enzyme="CK"),
                            Measurement(None, reason=no_unit, enzyme="CK"))
    assert change.label["en"] == "Most abnormal muscle enzyme: CK (creatine kinase)"
    assert change.reason["en"].startswith("Most abnormal muscle enzyme: CK (creatine kinase) is missing at the baseline")
