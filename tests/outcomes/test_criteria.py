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
    follow["HAQ"] = Measurement(None, 0.0, 3.0, reason={"en": "no completed 'haq' response", "sv": "inget ifyllt 'haq'-formulär"})
    result = imacs_improvement(core(), follow)
    assert result.met is None
    assert [m.measure for m in result.missing] == ["HAQ"]
    assert "follow-up" in result.missing[0].reason["en"] and "'haq'" in result.missing[0].reason["en"]
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
