"""The declarative scorer: sum or mean, reverse coding, proration and 0-100 rescaling, exactly.

The rules are those documented for ``scoring.scales`` in docs/adding-a-questionnaire.md (the
usual conventions of questionnaire manuals, e.g. the SF-36 manual's 0-100 transformation:
(raw - lowest possible) / (possible range) x 100, and proration of a sum by n/k). Every expected
number is worked by hand next to it.
"""
from __future__ import annotations

from fractions import Fraction

from pro_app.definitions import load_text
from pro_app.scoring import score

YAML = """
id: decl
version: "1"
title: {sv: Test, en: Test}
source: test
license: {sv: test, en: test}
audience: patient
option_sets:
  five:
    - {code: 1, text: {sv: "1", en: "1"}}
    - {code: 2, text: {sv: "2", en: "2"}}
    - {code: 3, text: {sv: "3", en: "3"}}
    - {code: 4, text: {sv: "4", en: "4"}}
    - {code: 5, text: {sv: "5", en: "5"}}
pages:
  - id: p
    items:
      - id: g
        type: grid
        text: {sv: Grid, en: Grid}
        options: five
        rows:
          - {id: a, text: {sv: a, en: a}}
          - {id: b, text: {sv: b, en: b}}
          - {id: c, text: {sv: c, en: c}}
          - {id: d, text: {sv: d, en: d}}
      - {id: n, type: numeric, min: 10, max: 20, text: {sv: n, en: n}}
scoring:
  scorer: declarative
  scales:
    - {id: SUM, label: {sv: s, en: s}, method: sum, items: [a, b, c, d], higher_is_better: true}
    - {id: MEAN, label: {sv: m, en: m}, method: mean, items: [a, b, c, d], min_answered: 2, higher_is_better: false,
       decimals: 2}
    - {id: REV, label: {sv: r, en: r}, method: sum, items: [a, b], reverse: [b], higher_is_better: true}
    - {id: PRO, label: {sv: p, en: p}, method: sum, items: [a, b, c, d], prorate: true, min_answered: 3,
       higher_is_better: true}
    - {id: SUM3, label: {sv: t, en: t}, method: sum, items: [a, b, c, d], min_answered: 3, higher_is_better: true}
    - {id: RESC, label: {sv: x, en: x}, method: sum, items: [a, b, c, d], rescale: true, higher_is_better: true}
    - {id: RESM, label: {sv: y, en: y}, method: mean, items: [a, n], rescale: true, reverse: [n],
       higher_is_better: false}
"""


def scored(answers):
    q = load_text(YAML, "decl.yaml")
    return {s.id: s for s in score(q, answers)}


def test_sum_and_mean_with_their_ranges():
    s = scored({"a": 1, "b": 2, "c": 4, "d": 5})
    assert (s["SUM"].exact, s["SUM"].min, s["SUM"].max) == (12, 4, 20)  # 1+2+4+5; 4 x 1 .. 4 x 5
    assert (s["MEAN"].exact, s["MEAN"].min, s["MEAN"].max) == (3, 1, 5)  # 12 / 4
    assert s["SUM"].higher_is_better and not s["MEAN"].higher_is_better
    assert (s["SUM"].decimals, s["MEAN"].decimals) == (1, 2)


def test_mean_of_the_answered_items_and_min_answered():
    s = scored({"a": 1, "b": 2})
    assert s["MEAN"].exact == Fraction(3, 2) and s["MEAN"].answered == 2 and s["MEAN"].missing == ["c", "d"]
    s = scored({"a": 1})
    assert s["MEAN"].value is None and "1 of 4" in s["MEAN"].reason["en"] and "1 av 4" in s["MEAN"].reason["sv"]


def test_reverse_coding_is_item_min_plus_max_minus_value():
    assert scored({"a": 2, "b": 1})["REV"].exact == 2 + (1 + 5 - 1)  # b = 1 reversed on 1-5 is 5
    assert scored({"a": 2, "b": 4})["REV"].exact == 2 + (1 + 5 - 4)


def test_an_unprorated_sum_needs_every_item():
    s = scored({"a": 1, "b": 2, "c": 4})
    assert s["SUM"].value is None and "at least 4" in s["SUM"].reason["en"]  # min_answered defaults to all
    # With min_answered below the item count, a sum still never reads low from a missing item.
    assert s["SUM3"].value is None and "prorate" in s["SUM3"].reason["en"] and "prorate" in s["SUM3"].reason["sv"]
    assert scored({"a": 1, "b": 2, "c": 4, "d": 5})["SUM3"].exact == 12


def test_proration_scales_the_sum_of_k_answered_by_n_over_k():
    s = scored({"a": 1, "b": 2, "c": 4})
    assert s["PRO"].exact == Fraction(7 * 4, 3)  # (1+2+4) x 4/3 = 28/3
    assert scored({"a": 1, "b": 2})["PRO"].value is None  # 2 < min_answered 3
    assert scored({"a": 1, "b": 2, "c": 4, "d": 5})["PRO"].exact == 12  # all answered: the plain sum


def test_rescale_maps_the_possible_range_onto_0_100():
    s = scored({"a": 1, "b": 2, "c": 4, "d": 5})
    assert s["RESC"].exact == Fraction(12 - 4, 20 - 4) * 100  # 50
    assert (s["RESC"].min, s["RESC"].max) == (0, 100)
    assert scored({"a": 1, "b": 1, "c": 1, "d": 1})["RESC"].exact == 0
    assert scored({"a": 5, "b": 5, "c": 5, "d": 5})["RESC"].exact == 100


def test_rescaled_mean_of_items_with_different_ranges_and_reverse_coding():
    # a on 1-5, n on 10-20 reversed: mean range (1+10)/2 .. (5+20)/2 = 5.5 .. 12.5.
    # a = 3, n = 12 -> 10 + 20 - 12 = 18: mean 10.5 -> (10.5 - 5.5) / 7 x 100 = 500/7.
    s = scored({"a": 3, "n": 12})
    assert s["RESM"].exact == Fraction(500, 7)
    # a = 3, n = 12.5 -> 17.5: mean 10.25 -> (10.25 - 5.5) / 7 x 100 = 475/7 (the decimal answer read exactly).
    assert scored({"a": 3, "n": 12.5})["RESM"].exact == Fraction(475, 7)
