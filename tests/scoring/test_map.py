"""MAP scorer (pro_app/scoring/map.py).

Median scoring: Alexanderson et al., J Rheumatol 2002;29:2386-92 and 2012;39:2134ff
("median of subscales/single items"). The half rule for missing items is pro-app's
documented choice (no published rule found); the tests pin that choice.
"""
from __future__ import annotations

import pytest

from scoring_helpers import assert_not_computable, by_id

MOVEMENT = [f"map{i}" for i in range(1, 8)]
PERSONAL_CARE = [f"map{i}" for i in range(15, 21)]
ALL = [f"map{i}" for i in range(1, 32)]


@pytest.mark.parametrize("value", [1, 7])
def test_all_same_answer_gives_that_score(map_q, value):
    # Range edges of the 7-point scale (1 = no difficulty, 7 = impossible).
    s = by_id(map_q, {i: value for i in ALL})
    assert all(scale.value == float(value) for scale in s.values())


def test_subscale_median_odd_and_even(map_q):
    answers = {i: 1 for i in ALL}
    answers.update(map1=7, map2=6, map3=5, map4=2)  # movement: 1,1,1,2,5,6,7 -> median 2
    answers.update(map15=2, map16=3, map17=5, map18=6)  # personal care: 1,1,2,3,5,6 -> (2+3)/2 = 2.5
    s = by_id(map_q, answers)
    assert s["movement"].value == 2.0
    assert s["personal_care"].value == 2.5


def test_total_is_median_of_subscales_and_single_items(map_q):
    answers = {i: 1 for i in ALL}
    answers.update({i: 4 for i in MOVEMENT})          # movement 4
    answers.update({i: 6 for i in PERSONAL_CARE})     # personal care 6
    answers.update(map28=7, map29=5)                  # single items 7, 5, 1, 1
    # components: 4, 1 (moving around), 6, 1 (domestic), 7, 5, 1, 1 -> sorted 1,1,1,1,4,5,6,7 -> (1+4)/2
    assert by_id(map_q, answers)["MAP_total"].value == 2.5


def test_subscale_half_rule(map_q):
    # pro-app choice: at least half of a subscale's items (7 items -> 4).
    answers = {i: 3 for i in ALL}
    for i in MOVEMENT[4:]:
        del answers[i]
    assert by_id(map_q, answers)["movement"].value == 3.0  # 4 of 7 answered
    del answers[MOVEMENT[3]]
    s = by_id(map_q, answers)
    assert_not_computable(s["movement"])  # 3 of 7
    assert s["MAP_total"].value == 3.0   # 7 of 8 components remain


def test_unanswered_single_item_is_missing(map_q):
    answers = {i: 2 for i in ALL if i != "map30"}
    s = by_id(map_q, answers)
    assert_not_computable(s["map30"])
    assert s["MAP_total"].value == 2.0


def test_total_half_rule(map_q):
    # pro-app choice: total needs at least 4 of its 8 components.
    answers = {i: 2 for i in ALL[:27]}  # four subscales, no single item
    assert by_id(map_q, answers)["MAP_total"].value == 2.0
    answers = {i: 2 for i in ALL[:20]}  # three subscales
    s = by_id(map_q, answers)
    assert_not_computable(s["MAP_total"])
    assert "3 of 8" in s["MAP_total"].reason["en"]


def test_broken_structure_is_a_clear_error(map_q):
    bad = map_q.model_copy(
        update={"scoring": map_q.scoring.model_copy(update={"options": {"domains": [{"id": "x", "label": {"sv": "x", "en": "x"}, "items": ["nope"]}]}})}
    )
    with pytest.raises(ValueError, match="unknown item 'nope'"):
        by_id(bad, {})


def test_min_fraction_defaults_to_a_half(map_q):
    options = {k: v for k, v in map_q.scoring.options.items() if k != "min_fraction"}
    q = map_q.model_copy(update={"scoring": map_q.scoring.model_copy(update={"options": options})})
    answers = {i: 3 for i in ALL if i not in MOVEMENT[4:]}  # 4 of 7 movement items
    assert by_id(q, answers)["movement"].value == 3.0
    del answers[MOVEMENT[3]]  # 3 of 7
    assert by_id(q, answers)["movement"].value is None
    strict = map_q.model_copy(update={"scoring": map_q.scoring.model_copy(update={"options": {**options, "min_fraction": 1}})})
    assert by_id(strict, {i: 3 for i in ALL if i != "map1"})["movement"].value is None


def test_missing_items_and_components_are_listed(map_q):
    answers = {i: 2 for i in ALL if i not in ("map2", "map30")}
    s = by_id(map_q, answers)
    assert s["movement"].missing == ["map2"] and s["movement"].answered == 6 and s["movement"].items == 7
    assert s["MAP_total"].missing == ["map30"] and s["MAP_total"].answered == 7 and s["MAP_total"].items == 8
    assert s["map28"].label == {"sv": map_q.answer_text("map28", "sv"), "en": map_q.answer_text("map28", "en")}


@pytest.mark.parametrize("domains, message", [
    ([], "must list the subscales"),
    ([{"id": "x", "items": ["map1"]}], "needs id, label"),
    ([{"id": "x", "label": {"en": "x"}, "items": ["map1"]}], "needs id, label"),
    ("movement", "must list the subscales"),
])
def test_every_structure_error_is_named(map_q, domains, message):
    options = {**map_q.scoring.options, "domains": domains}
    bad = map_q.model_copy(update={"scoring": map_q.scoring.model_copy(update={"options": options})})
    with pytest.raises(ValueError, match=message):
        by_id(bad, {})


def test_an_unknown_single_item_is_named(map_q):
    options = {**map_q.scoring.options, "single_items": ["map28", "map99"]}
    bad = map_q.model_copy(update={"scoring": map_q.scoring.model_copy(update={"options": options})})
    with pytest.raises(ValueError, match="unknown single item 'map99'"):
        by_id(bad, {})
