"""Skip logic the FHIR way: a hidden item's answer counts nowhere, not in later conditions, not in any score.

FHIR SDC, Questionnaire.item.enableWhen: "If enableWhen logic depends on an item that is disabled, the
logic should proceed as if the referenced item is not valued" (LHC-Forms renders it so). pro-app reads
answers through ``Questionnaire.shown_answers``; these tests check it on a chain of conditions and, for
every scorer plugin a shipped questionnaire names, that an answer behind a closed condition changes no score.
"""
from __future__ import annotations

from typing import Any

import pytest

from pro_app.definitions import Condition, Grid, MultipleChoice, Page, Text, VisualAnalogueScale, YesNo, load_text
from pro_app.scoring import score

CHAIN = """
id: chain
version: "1"
title: {sv: Kedja, en: Chain}
source: test
license: {sv: fri, en: free}
audience: patient
pages:
  - id: first
    items:
      - {id: q1, type: yesno, text: {sv: "Ett?", en: "One?"}}
      - {id: q2, type: yesno, text: {sv: "Två?", en: "Two?"}, show_if: {item: q1, equals: 1}}
  - id: second
    show_if: {item: q2, equals: 1}
    items:
      - {id: q3, type: yesno, text: {sv: "Tre?", en: "Three?"}}
  - id: third
    items:
      - {id: q4, type: numeric, min: 0, max: 10, text: {sv: Fyra, en: Four}, show_if: {item: q3, equals: 1}}
      - {id: q5, type: text, text: {sv: Fem, en: Five}, show_if: {item: q4, answered: false}}
scoring:
  scorer: declarative
  scales:
    - {id: total, label: {sv: Summa, en: Sum}, method: sum, items: [q4], higher_is_better: true, min_answered: 1}
"""


@pytest.fixture(scope="module")
def chain():
    return load_text(CHAIN, "chain.yaml")


def test_a_chain_of_three_conditions_closes_from_its_first_link(chain):
    stale = {"q1": 0, "q2": 1, "q3": 1, "q4": 7, "q5": "x"}
    # q1 "no" hides q2; q2's stored "yes" is absent, so page "second" (q3) is hidden, so q4 is hidden.
    assert chain.shown_answers(stale) == {"q1": 0, "q5": "x"}
    assert [p.id for p in chain.visible_pages(stale)] == ["first", "third"]
    assert chain.visible_answer_ids(stale) == ["q1", "q5"]  # q4 hidden: as if unanswered, so q5 shows
    assert score(chain, stale)[0].value is None
    assert score(chain, stale)[0].missing == []  # not shown is not missing
    # Open each link in turn: only then does the next one's answer count.
    assert chain.shown_answers({**stale, "q1": 1}) == {"q1": 1, "q2": 1, "q3": 1, "q4": 7}
    assert chain.visible_answer_ids({**stale, "q1": 1, "q3": 0}) == ["q1", "q2", "q3", "q5"]
    assert score(chain, {**stale, "q1": 1})[0].value == 7
    assert score(chain, {"q1": 1, "q2": 1, "q3": 1})[0].missing == ["q4"]  # shown and unanswered: missing


def test_items_of_several_pages_in_one_form_are_shown_by_the_same_rule(chain):
    everything = Page(id="all", items=[item for page in chain.pages for item in page.items])
    assert [i.id for i in chain.visible_items(everything, {"q1": 0, "q2": 1, "q3": 1})] == ["q1", "q5"]


def test_the_adverse_event_chain_hides_event_two_behind_a_no(questionnaires):
    q = questionnaires["adverse_events"]
    stale = {"AE_any": 0, "AE1_description": "Huvudvärk", "AE1_severity": 3, "AE1_another": 1,
             "AE2_description": "Illamående", "AE2_severity": 4, "AE2_serious": 1, "AE2_another": 0}
    assert [p.id for p in q.visible_pages(stale)] == ["any"]  # LHC-Forms hides event 2 too
    assert q.shown_answers(stale) == {"AE_any": 0}
    values = {s.id: s.value for s in score(q, stale)}
    assert values == {"AE_count": 0, "AE_serious": 0, "AE_severe": 0, "AE_related": 0}
    yes = {s.id: s.value for s in score(q, {**stale, "AE_any": 1})}
    assert yes == {"AE_count": 2, "AE_serious": 1, "AE_severe": 2, "AE_related": 0}


# ------------------------------------------------------------------ every scorer plugin


def _value(item: Any, q: Any) -> Any:
    """A valid answer away from the bottom of each item's range, so that leaving it out shows in a score."""
    if isinstance(item, MultipleChoice):
        return [item.listed_options(q)[-1].code]
    options = q.options_for(item.answer_ids()[0])
    if options:
        return options[min(1, len(options) - 1)].code
    if isinstance(item, VisualAnalogueScale):
        return 37.0
    if item.type in ("numeric", "nrs"):
        return type(item.min)(item.min + (item.max - item.min) * 3 / 4) if item.type == "nrs" else \
            round(item.min + (item.max - item.min) * 3 / 4, item.decimals)
    if item.type == "date":
        return "2025-03-01"
    return "fritext"


def _answers(q: Any) -> dict[str, Any]:
    out = {}
    for item in q.items():
        for aid in item.answer_ids():
            out[aid] = _value(item, q)
    if "AE_any" in out:  # every adverse event slot shown
        out.update({k: 1 for k in out if k == "AE_any" or k.endswith("_another")})
    return out


def _numbers(scales) -> list[tuple[str, Any, tuple[str, ...]]]:
    return [(s.id, s.value, tuple(s.missing)) for s in scales]


def _gated(q: Any, target: str) -> Any:
    """``q`` with a first page asking a yes/no gate, and item ``target`` shown only when it is yes."""
    gate = YesNo(id="gate_x", type="yesno", text=Text(sv="Grind?", en="Gate?"))
    test = Condition(item="gate_x", equals=1)
    pages = []
    for page in q.pages:
        items = [i.model_copy(update={"show_if": test if i.show_if is None else Condition(all=[i.show_if, test])})
                 if i.id == target else i for i in page.items]
        pages.append(page.model_copy(update={"items": items}))
    return q.model_copy(update={"pages": [Page(id="gate_page", items=[gate]), *pages]})


def test_for_every_scorer_plugin_an_answer_behind_a_closed_condition_changes_no_score(questionnaires):
    covered = set()
    for q in questionnaires.values():
        full = _answers(q)
        base = _numbers(score(q, full))
        # An item whose answer moves a score (for a grid: all its rows), else the test could not fail.
        target = next(i for i in q.items() if i.type != "text" and
                      _numbers(score(q, {k: v for k, v in full.items() if k not in i.answer_ids()})) != base)
        gated = _gated(q, target.id)
        without = {k: v for k, v in full.items() if k not in target.answer_ids()}
        hidden = _numbers(score(gated, {**full, "gate_x": 0}))
        assert hidden == _numbers(score(gated, {**without, "gate_x": 0})), (q.id, target.id)
        assert hidden != _numbers(score(gated, {**full, "gate_x": 1})), (q.id, target.id)
        assert _numbers(score(gated, {**full, "gate_x": 1})) == base
        # Hidden is "not shown", never "missing".
        assert not any(set(target.answer_ids()) & set(m) for _id, _v, m in hidden), (q.id, target.id)
        if isinstance(target, Grid):
            assert len(target.answer_ids()) > 1
        covered.add(q.scoring.scorer)
    assert covered == {"haq_di", "map", "sf36", "vas", "mfi2", "mmt8", "myoact", "enzymes", "adverse_events",
                       "declarative"}
