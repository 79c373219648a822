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
