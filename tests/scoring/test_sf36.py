"""SF-36 / RAND 36 scorer (pro_app/scoring/sf36.py).

Sources next to each expectation: RAND 36-Item Health Survey 1.0 scoring instructions
(Hays et al. 1993; Table 1 recoding, Table 2 scales), Ware et al. 1993 SF-36 manual (v1
precodes for items 1, 7, 8; half rule), Ware, Kosinski & Keller 1994 (PCS/MCS).
"""
from __future__ import annotations

import pytest

from fractions import Fraction

from pro_app.scoring.sf36 import MCS_COEFFICIENTS, PCS_COEFFICIENTS, RAND_RECODE, SCALES, US_NORMS, summary_score
from scoring_helpers import assert_not_computable, by_id

SCALE_IDS = ("PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH")


def with_method(q, method: str):
    return q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {"method": method}})})


def best() -> dict[str, int]:
    return {i: max(t, key=t.get) for i, t in RAND_RECODE.items()}


def worst() -> dict[str, int]:
    return {i: min(t, key=t.get) for i, t in RAND_RECODE.items()}


@pytest.mark.parametrize("method", ["rand", "sf36v1"])
def test_best_and_worst_answers_reach_100_and_0(sf36, method):
    # Both manuals transform every scale to 0 (worst) - 100 (best).
    q = with_method(sf36, method)
    top, bottom = by_id(q, best()), by_id(q, worst())
    for sid in SCALE_IDS:
        assert top[sid].value == 100.0
        assert bottom[sid].value == 0.0


def test_rand_physical_functioning_example(sf36):
    # RAND Table 1: PF items 1 -> 0, 2 -> 50, 3 -> 100; scale = mean: (0 + 50 + 8*100)/10 = 85.
    answers = {f"q3{x}": 3 for x in "abcdefghij"}
    answers.update(q3a=1, q3b=2)
    assert by_id(sf36, answers)["PF"].value == 85.0


def test_rand_role_and_emotional_examples(sf36):
    # RAND Table 1: yes (1) -> 0, no (2) -> 100. RP (4 items): 1 yes -> 75. RE (3 items): 1 yes -> 200/3.
    s = by_id(sf36, {"q4a": 1, "q4b": 2, "q4c": 2, "q4d": 2, "q5a": 2, "q5b": 1, "q5c": 2})
    assert s["RP"].value == 75.0
    assert s["RE"].exact == Fraction(200, 3)


def test_rand_bodily_pain_and_general_health(sf36):
    # RAND: q7=3 -> 60 (6-point, 1 -> 100), q8=2 -> 75 (5-point, 1 -> 100); BP = 67.5.
    # GH: q1=2 -> 75, q11a=4 -> 75, q11b=2 -> 75, q11c=5 -> 100, q11d=3 -> 50; mean 75.
    s = by_id(sf36, {"q7": 3, "q8": 2, "q1": 2, "q11a": 4, "q11b": 2, "q11c": 5, "q11d": 3})
    assert s["BP"].value == 67.5
    assert s["GH"].value == 75.0


def test_v1_bodily_pain_and_general_health_differ_from_rand(sf36):
    q = with_method(sf36, "sf36v1")
    # Ware 1993: q7=3 -> 4.2, q8=2 (with q7 answered) -> 4; raw 8.2 on 2-12: (8.2-2)/10*100 = 62.
    # GH: q1=2 -> 4.4 ((4.4-1)/4*100 = 85); others as RAND: (85+75+75+100+50)/5 = 77.
    s = by_id(q, {"q7": 3, "q8": 2, "q1": 2, "q11a": 4, "q11b": 2, "q11c": 5, "q11d": 3})
    assert s["BP"].value == 62.0
    assert s["GH"].value == 77.0


@pytest.mark.parametrize(
    "q7, q8, expected",
    [
        (1, 1, 100.0),  # Ware 1993: 7=1 -> 6.0, 8=1 and 7=1 -> 6: (12-2)/10*100
        (2, 1, 84.0),   # Ware 1993: 7=2 -> 5.4, 8=1 and 7>1 -> 5: (10.4-2)/10*100
        (6, 5, 0.0),    # 7=6 -> 1.0, 8=5 -> 1: floor
        (None, 2, 75.0),  # 7 missing: 8=2 -> 4.75: (4.75-1)/5*100
        (4, None, 42.0),  # 8 missing: 7=4 -> 3.1: (3.1-1)/5*100
    ],
)
def test_v1_bodily_pain_combinations(sf36, q7, q8, expected):
    answers = {k: v for k, v in {"q7": q7, "q8": q8}.items() if v is not None}
    assert by_id(with_method(sf36, "sf36v1"), answers)["BP"].value == expected


def test_health_transition_reported_alone(sf36):
    # RAND Table 1: item 2 recoded 1 -> 100 ... 5 -> 0; not part of any scale (Ware 1993).
    s = by_id(sf36, {"q2": 1})
    assert s["HT"].value == 100.0 and s["HT"].extra["response"] == 1
    assert by_id(sf36, {"q2": 4})["HT"].value == 25.0
    assert all(s[sid].value is None for sid in SCALE_IDS)
    assert_not_computable(by_id(sf36, {})["HT"])


@pytest.mark.parametrize(
    "scale, items, enough",
    [
        ("PF", [f"q3{x}" for x in "abcdefghij"], 5),
        ("RP", ["q4a", "q4b", "q4c", "q4d"], 2),
        ("BP", ["q7", "q8"], 1),
        ("GH", ["q1", "q11a", "q11b", "q11c", "q11d"], 3),
        ("VT", ["q9a", "q9e", "q9g", "q9i"], 2),
        ("SF", ["q6", "q10"], 1),
        ("RE", ["q5a", "q5b", "q5c"], 2),
        ("MH", ["q9b", "q9c", "q9d", "q9f", "q9h"], 3),
    ],
)
def test_half_rule_just_enough_and_one_too_few(sf36, scale, items, enough):
    # Ware 1993: a scale is scored when at least 50% of its items are answered, as the
    # mean of the answered items.
    full = best()
    answers = {k: v for k, v in full.items() if k not in items[enough:]}
    s = by_id(sf36, answers)
    assert s[scale].value == 100.0 and s[scale].answered == enough
    answers = {k: v for k, v in full.items() if k not in items[enough - 1:]}
    s = by_id(sf36, answers)
    assert_not_computable(s[scale])
    assert_not_computable(s["PCS"])
    assert_not_computable(s["MCS"])
    assert dict((sid, en) for sid, en, *_ in SCALES)[scale] in s["PCS"].reason["en"]


def test_summary_at_population_means_is_50():
    # Norm-based scoring: the 1990 US general population mean on every scale gives T = 50
    # (Ware, Kosinski & Keller 1994).
    means = {s: m for s, (m, _) in US_NORMS.items()}
    assert summary_score(means, PCS_COEFFICIENTS) == pytest.approx(50.0)
    assert summary_score(means, MCS_COEFFICIENTS) == pytest.approx(50.0)


def test_summary_one_sd_above_mean_on_physical_functioning():
    # Ware 1994 coefficients: PF z = +1 moves PCS by 10 * 0.42402 and MCS by 10 * -0.22999.
    values = {s: m for s, (m, _) in US_NORMS.items()}
    values["PF"] += US_NORMS["PF"][1]
    assert summary_score(values, PCS_COEFFICIENTS) == pytest.approx(54.2402)
    assert summary_score(values, MCS_COEFFICIENTS) == pytest.approx(47.7001)


def test_published_norms_and_coefficients():
    # Ware, Kosinski & Keller 1994 (1990 US general population, n = 2393); Ware et al. 1995.
    assert US_NORMS["PF"] == (84.52404, 22.89490)
    assert US_NORMS["MH"] == (74.84212, 18.01189)
    assert PCS_COEFFICIENTS["PF"] == 0.42402 and PCS_COEFFICIENTS["MH"] == -0.22069
    assert MCS_COEFFICIENTS["RE"] == 0.43407 and MCS_COEFFICIENTS["MH"] == 0.48581


def test_pcs_mcs_from_a_full_response(sf36):
    # Hand computation with the same formula from the 0-100 scales of a full response.
    s = by_id(with_method(sf36, "sf36v1"), best())
    expected = 50 + 10 * sum(PCS_COEFFICIENTS[k] * (100 - m) / sd for k, (m, sd) in US_NORMS.items())
    assert s["PCS"].value == pytest.approx(expected, abs=1e-9)
    assert s["PCS"].min <= s["PCS"].value <= s["PCS"].max
    assert s["MCS"].min <= s["MCS"].value <= s["MCS"].max


def test_unknown_method_is_an_error(sf36):
    with pytest.raises(ValueError, match="unknown SF-36 scoring method"):
        by_id(with_method(sf36, "v9"), best())


# ---------------------------------------------------------------- every recode value, from the manuals

# RAND 36-Item Health Survey 1.0 scoring instructions, Table 1 (item numbers 1-36 of the form).
RAND_TABLE_1 = [
    ((1, 2, 20, 22, 34, 36), {1: 100, 2: 75, 3: 50, 4: 25, 5: 0}),
    (tuple(range(3, 13)), {1: 0, 2: 50, 3: 100}),
    (tuple(range(13, 20)), {1: 0, 2: 100}),
    ((21, 23, 26, 27, 30), {1: 100, 2: 80, 3: 60, 4: 40, 5: 20, 6: 0}),
    ((24, 25, 28, 29, 31), {1: 0, 2: 20, 3: 40, 4: 60, 5: 80, 6: 100}),
    ((32, 33, 35), {1: 0, 2: 25, 3: 50, 4: 75, 5: 100}),
]
# Table 2: items averaged into each scale.
RAND_TABLE_2 = {"PF": range(3, 13), "RP": range(13, 17), "RE": range(17, 20), "VT": (23, 27, 29, 31),
                "MH": (24, 25, 26, 28, 30), "SF": (20, 32), "BP": (21, 22), "GH": (1, 33, 34, 35, 36)}
FORM_IDS = (["q1", "q2"] + [f"q3{x}" for x in "abcdefghij"] + [f"q4{x}" for x in "abcd"] + [f"q5{x}" for x in "abc"]
            + ["q6", "q7", "q8"] + [f"q9{x}" for x in "abcdefghi"] + ["q10"] + [f"q11{x}" for x in "abcd"])
RECODE = {FORM_IDS[n - 1]: table for numbers, table in RAND_TABLE_1 for n in numbers}


@pytest.mark.parametrize("item", FORM_IDS)
def test_every_rand_recode_value(sf36, item):
    # One item at each response code, every other item at its best: the scale is the mean of
    # the items' Table 1 values (Table 2).
    scale = next((sid for sid, numbers in RAND_TABLE_2.items() if FORM_IDS.index(item) + 1 in numbers), "HT")
    members = [FORM_IDS[n - 1] for n in RAND_TABLE_2.get(scale, (2,))]
    for code, recoded in RECODE[item].items():
        answers = {**best(), item: code}
        expected = Fraction(sum(100 if m != item else recoded for m in members), len(members))
        assert by_id(sf36, answers)[scale].exact == expected, (item, code)


# SF-36 Health Survey Manual (Ware et al. 1993) precodes, as implemented independently in
# SF36HealthSurvey.jl (src/SF36HealthSurvey.jl, sf36()): item 1, item 7, and item 8 with or without item 7.
V1_ITEM1 = {1: "5", 2: "4.4", 3: "3.4", 4: "2", 5: "1"}
V1_ITEM7 = {1: "6", 2: "5.4", 3: "4.2", 4: "3.1", 5: "2.2", 6: "1"}
V1_ITEM8_ALONE = {1: "6", 2: "4.75", 3: "3.5", 4: "2.25", 5: "1"}


def v1_item8(q7: int, q8: int) -> Fraction:
    if q8 == 1:
        return Fraction(6 if q7 == 1 else 5)
    return Fraction(6 - q8)


@pytest.mark.parametrize("code", sorted(V1_ITEM1))
def test_v1_general_health_item_1_precodes(sf36, code):
    # GH raw sum of items 1 (precoded) and 11a-d, transformed: (sum - 5) / 20 * 100; 11a-d at best (5 each).
    s = by_id(with_method(sf36, "sf36v1"), {**best(), "q1": code})
    assert s["GH"].exact == (Fraction(V1_ITEM1[code]) + 4 * 5 - 5) / 20 * 100


@pytest.mark.parametrize("q7", [None, 1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("q8", [None, 1, 2, 3, 4, 5])
def test_v1_bodily_pain_every_combination(sf36, q7, q8):
    answers = {k: v for k, v in {"q7": q7, "q8": q8}.items() if v is not None}
    s = by_id(with_method(sf36, "sf36v1"), answers)["BP"]
    if q7 is None and q8 is None:
        assert s.value is None
        return
    # BP = (item 7 + item 8 - 2) / 10 * 100; one item missing: the other counts twice (half rule).
    bp7 = Fraction(V1_ITEM7[q7]) if q7 else None
    bp8 = (v1_item8(q7, q8) if q7 else Fraction(V1_ITEM8_ALONE[q8])) if q8 else None
    bp7, bp8 = bp7 if bp7 is not None else bp8, bp8 if bp8 is not None else bp7
    assert s.exact == (bp7 + bp8 - 2) / 10 * 100


def test_rand_and_v1_differ_only_for_bodily_pain_and_general_health(sf36):
    answers = {aid: min(RECODE[aid]) + 1 for aid in FORM_IDS}  # every item at its second code
    rand, v1 = by_id(sf36, answers), by_id(with_method(sf36, "sf36v1"), answers)
    assert {sid for sid in RAND_TABLE_2 if rand[sid].exact != v1[sid].exact} == {"BP", "GH"}


def test_health_transition_every_code(sf36):
    # RAND Table 1: item 2, 1 -> 100 ... 5 -> 0; reported alone with its response code.
    for code, expected in RECODE["q2"].items():
        ht = by_id(sf36, {"q2": code})["HT"]
        assert (ht.value, ht.extra["response"]) == (expected, code)


def test_summary_ranges_are_the_extremes_over_every_corner():
    # Each scale at 0 or 100: 2^8 corners; the T-score range is the lowest and highest of them.
    from itertools import product

    from pro_app.scoring.sf36 import summary_range

    for coefficients in (PCS_COEFFICIENTS, MCS_COEFFICIENTS):
        totals = [50 + 10 * sum(coefficients[s] * (v - US_NORMS[s][0]) / US_NORMS[s][1] for s, v in zip(SCALE_IDS, corner))
                  for corner in product((0, 100), repeat=8)]
        lo, hi = summary_range(coefficients)
        assert lo == pytest.approx(min(totals), abs=1e-9) and hi == pytest.approx(max(totals), abs=1e-9)


def test_summary_scale_metadata(sf36):
    s = by_id(sf36, best())
    for sid in SCALE_IDS:
        assert (s[sid].min, s[sid].max, s[sid].higher_is_better, s[sid].decimals) == (0, 100, True, 1)
    assert (s["HT"].min, s["HT"].max, s["HT"].higher_is_better, s["HT"].decimals) == (0, 100, True, 0)
    for sid in ("PCS", "MCS"):
        assert s[sid].higher_is_better and s[sid].decimals == 1 and s[sid].extra["scored_as"] == "sf36v1"


def test_min_fraction_option_changes_the_half_rule(sf36):
    q = sf36.model_copy(update={"scoring": sf36.scoring.model_copy(update={"options": {"min_fraction": 0.75}})})
    answers = {k: v for k, v in best().items() if k not in ("q3a", "q3b", "q3c")}  # 7 of 10 PF items
    assert by_id(q, answers)["PF"].value is None  # 0.75 x 10 -> 8 needed
    assert by_id(sf36, answers)["PF"].value == 100  # default 0.5 -> 5 needed


def test_missing_items_and_scales_are_listed(sf36):
    answers = {k: v for k, v in best().items() if k not in ("q3a", "q3b", "q3c", "q3d", "q3e", "q3f", "q9a")}
    s = by_id(sf36, answers)
    assert s["PF"].missing == ["q3a", "q3b", "q3c", "q3d", "q3e", "q3f"] and s["PF"].value is None
    assert s["VT"].missing == ["q9a"] and s["VT"].answered == 3 and s["VT"].items == 4
    assert (s["PCS"].answered, s["PCS"].items, s["PCS"].missing) == (7, 8, ["PF"])
    assert (s["MCS"].answered, s["MCS"].items) == (7, 8)
    full = by_id(sf36, best())
    assert (full["PCS"].answered, full["PCS"].items, full["PCS"].missing) == (8, 8, [])
