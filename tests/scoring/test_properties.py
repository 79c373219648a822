"""Property tests over every shipped questionnaire and its scorer.

* any valid answer set (any subset of items, any valid code) scores within each scale's
  [min, max], or is None with a reason in both languages;
* answer sets with too many missing items never give a number.
"""
from __future__ import annotations

import os
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pro_app.answers import normalise_answers
from pro_app.definitions import (
    DateItem,
    FreeText,
    MultipleChoice,
    Numeric,
    RatingScale,
    VisualAnalogueScale,
    load_directory,
)
from pro_app.scoring import score

from scoring_helpers import QUESTIONNAIRE_DIR

QUESTIONNAIRES = load_directory(QUESTIONNAIRE_DIR)
# scripts/mutate.py sets PRO_APP_PROPERTY_EXAMPLES lower to test many mutants quickly.
SETTINGS = settings(max_examples=int(os.environ.get("PRO_APP_PROPERTY_EXAMPLES", 150)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def value_strategy(q: Any, answer_id: str) -> st.SearchStrategy[Any]:
    item = q.item_for_answer(answer_id)
    options = q.options_for(answer_id)
    if isinstance(item, MultipleChoice):
        ticked = st.lists(st.sampled_from([o.code for o in item.listed_options(q)]), unique=True)
        if item.none_option is None:
            return ticked
        return st.one_of(ticked, st.just([item.none_option.code]))  # "none of these" stands alone
    if options is not None:
        return st.sampled_from([o.code for o in options])
    if isinstance(item, VisualAnalogueScale):
        return st.floats(0, 100).map(lambda v: round(v, 1))
    if isinstance(item, (Numeric, RatingScale)):
        return st.integers(math.ceil(item.min), math.floor(item.max))
    if isinstance(item, FreeText):
        return st.text(max_size=20)
    if isinstance(item, DateItem):
        return st.dates().map(lambda d: d.isoformat())
    raise AssertionError(f"no strategy for {item.type}")  # pragma: no cover


def answers_strategy(q: Any, ids: list[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    ids = ids if ids is not None else q.answer_ids()
    return st.fixed_dictionaries({}, optional={aid: value_strategy(q, aid) for aid in ids})


def assert_in_range_or_explained(q: Any, answers: dict[str, Any]) -> None:
    for scale in score(q, normalise_answers(q, answers)):
        if scale.value is None:
            assert scale.reason and scale.reason["en"] and scale.reason["sv"], scale.id
        else:
            assert scale.min <= scale.value and (scale.max is None or scale.value <= scale.max), (scale.id, scale.value)


@pytest.mark.parametrize("qid", sorted(QUESTIONNAIRES))
def test_any_valid_answers_score_within_range(qid):
    q = QUESTIONNAIRES[qid]

    @SETTINGS
    @given(answers_strategy(q))
    def check(answers):
        assert_in_range_or_explained(q, answers)

    check()


@pytest.mark.parametrize("qid", sorted(QUESTIONNAIRES))
def test_complete_answers_score_every_scale(qid):
    # With every item answered (text items aside) no scale may be missing.
    q = QUESTIONNAIRES[qid]
    ids = [a for a in q.answer_ids() if not isinstance(q.item_for_answer(a), (FreeText, DateItem))]

    @SETTINGS
    @given(st.fixed_dictionaries({aid: value_strategy(q, aid) for aid in ids}))
    def check(answers):
        for scale in score(q, normalise_answers(q, answers)):
            assert scale.value is not None, (scale.id, scale.reason)
            assert scale.min <= scale.value and (scale.max is None or scale.value <= scale.max)

    check()


HAQ_CATEGORIES = [
    ["haq1a", "haq1b"], ["haq2a", "haq2b"], ["haq3a", "haq3b", "haq3c"], ["haq4a", "haq4b"],
    ["haq5a", "haq5b", "haq5c"], ["haq6a", "haq6b"], ["haq7a", "haq7b", "haq7c"], ["haq8a", "haq8b", "haq8c"],
]


@SETTINGS
@given(data=st.data(), kept=st.integers(0, 5))
def test_haq_di_needs_six_categories(data, kept):
    # Bruce & Fries 2003: no HAQ-DI from fewer than 6 answered categories, aids or not.
    q = QUESTIONNAIRES["haq"]
    chosen = data.draw(st.lists(st.sampled_from(range(8)), unique=True, min_size=kept, max_size=kept))
    ids = [i for c in chosen for i in HAQ_CATEGORIES[c]] + ["aids1", "aids2", "help1", "help2", "haq_pain"]
    answers = data.draw(answers_strategy(q, ids))
    scales = {s.id: s for s in score(q, normalise_answers(q, answers))}
    for sid in ("HAQ_DI", "HAQ_DI_no_aids"):
        assert scales[sid].value is None
        assert scales[sid].reason["en"] and scales[sid].reason["sv"]


SF36_SCALES = {
    "PF": [f"q3{x}" for x in "abcdefghij"], "RP": ["q4a", "q4b", "q4c", "q4d"], "BP": ["q7", "q8"],
    "GH": ["q1", "q11a", "q11b", "q11c", "q11d"], "VT": ["q9a", "q9e", "q9g", "q9i"], "SF": ["q6", "q10"],
    "RE": ["q5a", "q5b", "q5c"], "MH": ["q9b", "q9c", "q9d", "q9f", "q9h"],
}


@SETTINGS
@given(data=st.data(), scale=st.sampled_from(sorted(SF36_SCALES)))
def test_sf36_scale_with_under_half_is_missing(data, scale):
    # Ware 1993 half rule: fewer than half the items -> no scale, and no PCS/MCS (Ware 1994).
    q = QUESTIONNAIRES["sf36"]
    items = SF36_SCALES[scale]
    under = (len(items) + 1) // 2 - 1
    kept = data.draw(st.lists(st.sampled_from(items), unique=True, max_size=under))
    others = [a for a in q.answer_ids() if a not in items]
    answers = data.draw(answers_strategy(q, others + kept))
    scales = {s.id: s for s in score(q, normalise_answers(q, answers))}
    for sid in (scale, "PCS", "MCS"):
        assert scales[sid].value is None
        assert scales[sid].reason["en"] and scales[sid].reason["sv"]


@SETTINGS
@given(data=st.data())
def test_map_subscale_with_under_half_is_missing(data):
    q = QUESTIONNAIRES["map"]
    domain = data.draw(st.sampled_from(q.scoring.options["domains"]))
    items = domain["items"]
    kept = data.draw(st.lists(st.sampled_from(items), unique=True, max_size=(len(items) + 1) // 2 - 1))
    others = [a for a in q.answer_ids() if a not in items]
    answers = data.draw(answers_strategy(q, others + kept))
    scales = {s.id: s for s in score(q, normalise_answers(q, answers))}
    assert scales[domain["id"]].value is None
    assert scales[domain["id"]].reason["sv"]


@SETTINGS
@given(data=st.data())
def test_fss_with_a_missing_item_is_missing(data):
    q = QUESTIONNAIRES["fss"]
    ids = q.answer_ids()
    kept = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids) - 1))
    scales = score(q, normalise_answers(q, data.draw(answers_strategy(q, kept))))
    assert scales[0].value is None and scales[0].reason["sv"]
