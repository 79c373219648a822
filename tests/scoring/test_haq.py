"""HAQ-DI scorer (pro_app/scoring/haq.py).

Rules: Bruce B, Fries JF. Health Qual Life Outcomes 2003;1:20 ("Scoring the HAQ-DI") and
the Stanford/ARAMIS HAQ administration and scoring instructions (revised June 2009).
Expected numbers are hand-computed from those rules; the computation is written next to each.
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from scoring_helpers import assert_not_computable, by_id

ITEMS = {
    1: ["haq1a", "haq1b"],
    2: ["haq2a", "haq2b"],
    3: ["haq3a", "haq3b", "haq3c"],
    4: ["haq4a", "haq4b"],
    5: ["haq5a", "haq5b", "haq5c"],
    6: ["haq6a", "haq6b"],
    7: ["haq7a", "haq7b", "haq7c"],
    8: ["haq8a", "haq8b", "haq8c"],
}


def all_items(value: int) -> dict[str, int]:
    return {i: value for items in ITEMS.values() for i in items}


def test_all_without_difficulty_is_zero(haq):
    # Every item 0 -> every category 0 -> HAQ-DI 0 (range floor, Bruce & Fries 2003).
    s = by_id(haq, all_items(0))
    assert s["HAQ_DI"].value == 0.0
    assert s["HAQ_DI_no_aids"].value == 0.0


def test_all_unable_is_three(haq):
    # Every item 3 -> HAQ-DI 3 (range ceiling, Bruce & Fries 2003).
    s = by_id(haq, all_items(3))
    assert s["HAQ_DI"].value == 3.0


def test_worked_example_highest_item_per_category_and_aids(haq):
    answers = {
        "haq1a": 1, "haq1b": 0,                 # dressing  max 1
        "haq2a": 2, "haq2b": 1,                 # arising   max 2
        "haq3a": 0, "haq3b": 0, "haq3c": 1,     # eating    max 1
        "haq4a": 0, "haq4b": 1,                 # walking   max 1, cane -> 2
        "haq5a": 0, "haq5b": 3, "haq5c": 0,     # hygiene   max 3
        "haq6a": 1, "haq6b": 0,                 # reach     max 1
        "haq7a": 0, "haq7b": 1, "haq7c": 0,     # grip      max 1, help -> 2
        "haq8a": 1, "haq8b": 1, "haq8c": 2,     # activities max 2
        "aids1": ["cane"], "help2": ["grip"],
    }
    s = by_id(haq, answers)
    # Unadjusted: (1+2+1+1+3+1+1+2)/8 = 12/8 = 1.5 (ARAMIS 2009: sum of categories / categories answered).
    assert s["HAQ_DI_no_aids"].value == 1.5
    assert s["HAQ_DI"].extra["without_aids_help"] == 1.5
    # Adjusted: walking and grip raised from 1 to 2 (ARAMIS 2009 aids/help rule): 14/8 = 1.75.
    assert s["HAQ_DI"].value == 1.75


@pytest.mark.parametrize(
    "aid_item, aid, category",
    [
        ("aids1", "dressing_devices", 1),
        ("aids1", "chair", 2),
        ("aids1", "utensils", 3),
        ("aids1", "cane", 4),
        ("aids1", "walker", 4),
        ("aids1", "crutches", 4),
        ("aids1", "wheelchair", 4),
        ("aids2", "toilet_seat", 5),
        ("aids2", "bathtub_seat", 5),
        ("aids2", "bathtub_bar", 5),
        ("aids2", "bathroom_appliances", 5),
        ("aids2", "reach_appliances", 6),
        ("aids2", "jar_opener", 7),
    ],
)
def test_each_aid_raises_only_its_own_category(haq, aid_item, aid, category):
    # Aid-to-category assignment: ARAMIS 2009 scoring instructions; Bruce & Fries 2003.
    s = by_id(haq, {**all_items(0), aid_item: [aid]})
    cats = {c["category"]: c["score"] for c in s["HAQ_DI"].extra["categories"]}
    assert cats[category] == 2
    assert all(v == 0 for k, v in cats.items() if k != category)
    assert s["HAQ_DI"].value == 0.25  # 2/8
    assert s["HAQ_DI_no_aids"].value == 0.0


@pytest.mark.parametrize(
    "help_item, code, category",
    [("help1", "dressing", 1), ("help1", "arising", 2), ("help1", "eating", 3), ("help1", "walking", 4),
     ("help2", "hygiene", 5), ("help2", "reach", 6), ("help2", "grip", 7), ("help2", "activities", 8)],
)
def test_help_from_another_person_raises_its_category(haq, help_item, code, category):
    # Help from another person is scored like aids (ARAMIS 2009).
    s = by_id(haq, {**all_items(1), help_item: [code]})
    cats = {c["category"]: c["score"] for c in s["HAQ_DI"].extra["categories"]}
    assert cats[category] == 2
    assert s["HAQ_DI"].value == 1.125  # (7*1 + 2)/8


def test_aids_leave_a_two_or_three_unchanged(haq):
    # "if the patient's highest score for that category is a 3, it stays a 3" (ARAMIS 2009).
    answers = {**all_items(0), "haq4a": 3, "haq2a": 2, "aids1": ["cane", "chair"]}
    cats = {c["category"]: c["score"] for c in by_id(haq, answers)["HAQ_DI"].extra["categories"]}
    assert cats[4] == 3
    assert cats[2] == 2


def test_other_aid_is_reported_not_scored(haq):
    # "Other" needs a person's judgement; ARAMIS 2009 allows excluding it.
    s = by_id(haq, {**all_items(0), "aids1": ["other"], "aids1_other": "grab bar"})
    assert s["HAQ_DI"].value == 0.0
    assert s["HAQ_DI"].extra["other_aids_not_scored"] == ["aids1: grab bar"]


def test_one_answered_item_makes_a_category(haq):
    # Category score = highest answered item (Bruce & Fries 2003).
    answers = {**all_items(0)}
    del answers["haq3a"], answers["haq3b"]
    answers["haq3c"] = 2
    assert by_id(haq, answers)["HAQ_DI"].value == 0.25


def test_six_categories_are_enough(haq):
    # At least 6 of 8 categories (Bruce & Fries 2003; ARAMIS 2009): mean over answered ones.
    answers = {i: 2 for c in (1, 2, 3, 4, 5, 6) for i in ITEMS[c]}
    answers["haq1a"] = 3
    s = by_id(haq, answers)
    assert s["HAQ_DI"].exact == Fraction(3 + 2 * 5, 6)  # 13/6, shown as 2.167
    assert s["HAQ_DI"].answered == 6


def test_five_categories_are_too_few(haq):
    answers = {i: 1 for c in (1, 2, 3, 4, 5) for i in ITEMS[c]}
    s = by_id(haq, answers)
    assert_not_computable(s["HAQ_DI"])
    assert_not_computable(s["HAQ_DI_no_aids"])
    assert "5 of 8" in s["HAQ_DI"].reason["en"]


def test_aids_do_not_make_an_unanswered_category(haq):
    # A category with no answered item is missing, whatever aids are checked.
    answers = {i: 0 for c in (1, 2, 3, 5, 6) for i in ITEMS[c]}
    answers["aids1"] = ["cane", "wheelchair"]
    answers["help1"] = ["walking"]
    s = by_id(haq, answers)
    assert_not_computable(s["HAQ_DI"])  # 5 categories: walking has no answers


def test_pain_vas_mm_and_0_3(haq):
    # HAQ pain VAS, 100 mm line; 0-3 form = mm x 0.03 (ARAMIS 2009).
    s = by_id(haq, {**all_items(0), "haq_pain": 42.0})["HAQ_pain"]
    assert s.value == 42.0
    assert s.extra["haq_0_3"] == 1.26
    assert (s.min, s.max) == (0.0, 100.0)


def test_pain_unmarked_is_missing(haq):
    assert_not_computable(by_id(haq, all_items(0))["HAQ_pain"])


def test_pain_edges(haq):
    assert by_id(haq, {"haq_pain": 0.0})["HAQ_pain"].value == 0.0  # untouched would be None, 0 is a mark
    assert by_id(haq, {"haq_pain": 100.0})["HAQ_pain"].extra["haq_0_3"] == 3.0


def test_min_categories_defaults_to_six_when_the_file_does_not_say(haq):
    # Bruce & Fries 2003 / ARAMIS 2009: at least 6 of 8 categories; the default when options omit it.
    q = haq.model_copy(update={"scoring": haq.scoring.model_copy(update={"options": {}})})
    six = {i: 1 for c in (1, 2, 3, 4, 5, 6) for i in ITEMS[c]}
    five = {i: 1 for c in (1, 2, 3, 4, 5) for i in ITEMS[c]}
    assert by_id(q, six)["HAQ_DI"].value == 1 and by_id(q, five)["HAQ_DI"].value is None
    strict = haq.model_copy(update={"scoring": haq.scoring.model_copy(update={"options": {"min_categories": 7}})})
    assert by_id(strict, six)["HAQ_DI"].value is None


def test_aids_and_help_answers_are_told_apart_from_unanswered(haq):
    answers = {**all_items(1), "aids1": ["none"], "help1": ["dressing", "eating"], "aids2": ["jar_opener"]}
    s = by_id(haq, answers)["HAQ_DI"]
    assert s.extra["aids_help"] == {"aids1": "none", "aids2": ["jar_opener"], "help1": ["dressing", "eating"],
                                    "help2": "unanswered"}
    assert "help2" in s.missing and "aids1" not in s.missing and "aids2" not in s.missing
    # An old stored [] (before "none" was an explicit answer) is read as unanswered.
    old = by_id(haq, {**all_items(1), "aids1": []})["HAQ_DI"]
    assert old.extra["aids_help"]["aids1"] == "unanswered" and "aids1" in old.missing
    # dressing, eating (help) and grip (jar opener) raised from 1 to 2: (3 x 2 + 5 x 1) / 8.
    assert s.exact == Fraction(11, 8)


def test_category_details_count_the_answered_items(haq):
    answers = {**all_items(0)}
    del answers["haq3a"]
    cats = {c["category"]: c for c in by_id(haq, answers)["HAQ_DI"].extra["categories"]}
    assert cats[3]["answered_items"] == 2 and cats[1]["answered_items"] == 2 and cats[8]["answered_items"] == 3
    assert cats[3]["name"] == {"en": "Eating", "sv": "Äta"}


def test_a_questionnaire_without_the_haq_items_is_refused(haq):
    broken = haq.model_copy(update={"pages": haq.pages[:1]})
    with pytest.raises(ValueError, match="lacks HAQ items"):
        by_id(broken, {})


def test_without_aids_is_reported_beside_the_adjusted_index(haq):
    s = by_id(haq, {**all_items(1), "aids1": ["cane"]})
    assert s["HAQ_DI"].extra["without_aids_help"] == 1.0 and s["HAQ_DI_no_aids"].value == 1.0
    assert s["HAQ_DI"].value == 1.125
    assert s["HAQ_DI_no_aids"].label["sv"].startswith("HAQ funktionsindex utan justering")


def test_the_index_lists_its_unanswered_items_and_counts_categories(haq):
    answers = {**all_items(1), "aids1": ["none"], "aids2": ["none"], "help1": ["none"], "help2": ["none"]}
    del answers["haq3a"], answers["haq8b"], answers["haq8c"]
    s = by_id(haq, answers)["HAQ_DI"]
    assert s.missing == ["haq3a", "haq8b", "haq8c"]  # every category still answered by some item
    assert (s.answered, s.items) == (8, 8)
    del answers["haq8a"]
    s = by_id(haq, answers)["HAQ_DI"]
    assert (s.answered, s.items) == (7, 8) and s.exact == 1
