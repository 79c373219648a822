"""Change of every scale from baseline (``outcomes.scale_changes``), exactly, with the direction that counts."""
from __future__ import annotations

from fractions import Fraction

from pro_app.outcomes import core_set_from_scores, scale_changes
from pro_app.scoring import Scale


def scale(sid, value, *, higher=True, unit=None, reason=None):
    return Scale(id=sid, label={"sv": sid, "en": sid}, value=value, min=0, max=100, higher_is_better=higher,
                 answered=1, items=1, unit=unit, reason=reason, decimals=2)


def by_scale(changes):
    return {c.scale: c for c in changes}


def test_change_direction_and_a_small_change():
    base = {"q": [scale("up", 10), scale("down", 10, higher=False), scale("same", 10), scale("tiny", 10)]}
    follow = {"q": [scale("up", 12), scale("down", 12, higher=False), scale("same", 10), scale("tiny", 10.5)]}
    c = by_scale(scale_changes(base, follow))
    assert (c["up"].change, c["up"].change_pct, c["up"].improved) == (2, 20, True)
    assert (c["down"].change, c["down"].improved) == (2, False)  # a rise of a lower-is-better scale is worse
    assert (c["same"].change, c["same"].improved) == (0, None)
    assert (c["tiny"].change, c["tiny"].change_pct, c["tiny"].improved) == (0.5, 5, True)
    assert c["up"].decimals == 2 and c["up"].reason is None


def test_exact_change_and_no_percent_from_zero():
    c = by_scale(scale_changes({"q": [scale("a", Fraction(1, 3)), scale("z", 0)]},
                               {"q": [scale("a", Fraction(2, 3)), scale("z", 5)]}))
    assert c["a"].change == 1 / 3 and c["a"].change_pct == 100.0
    assert c["z"].change == 5 and c["z"].change_pct is None and c["z"].improved is True


def test_a_scale_at_one_visit_only_says_which_is_missing_and_why():
    why = {"en": "2 of 10 items answered", "sv": "2 av 10 frågor besvarade"}
    base = {"q": [scale("a", 10), scale("b", None, reason=why)]}
    follow = {"q": [scale("a", None), scale("b", 20), scale("new", 5)], "r": [scale("c", 1)]}
    c = by_scale(scale_changes(base, follow))
    assert set(c) == {"a", "b", "new", "c"}  # scales met only at follow-up are listed too
    assert c["a"].reason["en"] == "Missing at follow-up: not recorded" and c["a"].baseline == 10
    assert c["b"].reason == {"en": "Missing at baseline: 2 of 10 items answered",
                             "sv": "Saknas vid baslinjen: 2 av 10 frågor besvarade"}
    assert c["new"].reason["en"].startswith("Missing at baseline") and c["new"].follow_up == 5
    assert c["c"].questionnaire == "r" and c["c"].change is None


def test_values_in_different_units_are_not_subtracted():
    c = by_scale(scale_changes({"e": [scale("CK", 20, unit="µkat/L")]}, {"e": [scale("CK", 600, unit="U/L")]}))
    assert c["CK"].change is None and "different units" in c["CK"].reason["en"] and c["CK"].reason["sv"]


def test_a_visit_without_responses_names_each_missing_form_by_name():
    core = core_set_from_scores({})
    assert core["HAQ"].reason == {"en": "no completed form (HAQ disability index)",
                                  "sv": "inget ifyllt formulär (HAQ funktionsindex)"}
    assert core["enzyme"].reason["en"] == "no completed form (Most abnormal muscle enzyme)"
    given = {"en": "given", "sv": "given"}
    assert core_set_from_scores({}, {"enzymes": given, "haq": given})["enzyme"].reason == given


def test_one_enzyme_without_an_upper_limit_is_the_one_followed():
    from pro_app.definitions import load_directory
    from pro_app.config import questionnaire_dir
    from pro_app.outcomes import compare_visits
    from pro_app.scoring import score

    q = load_directory(questionnaire_dir())["enzymes"]
    base = {"enzymes": score(q, {"aldolase": 30, "aldolase_unit": "U_L"})}  # only aldolase, no ULN
    follow = {"enzymes": score(q, {"aldolase": 15, "aldolase_unit": "U_L", "CK": 900, "CK_unit": "U_L", "CK_ULN": 200})}
    comparison = compare_visits("baseline", {"key": "m1"}, base, {}, follow, {})
    enzyme = next(c for c in comparison.core_set if c.measure == "enzyme")
    assert comparison.enzyme == "aldolase" and enzyme.relative_improvement_pct == 50.0
    # Two enzymes at baseline and neither with its upper limit: the most abnormal cannot be told.
    base2 = {"enzymes": score(q, {"aldolase": 30, "aldolase_unit": "U_L", "CK": 900, "CK_unit": "U_L"})}
    comparison = compare_visits("baseline", {"key": "m1"}, base2, {}, follow, {})
    assert comparison.enzyme is None
    reason = next(c for c in comparison.core_set if c.measure == "enzyme").reason
    assert "upper limit" in reason["en"] and "övre referensgräns" in reason["sv"]
