"""The Fatigue Severity Scale, scored from its YAML by the declarative scorer.

Krupp LB et al. Arch Neurol 1989;46:1121-3: FSS score = mean of the nine items (1-7).
"""
from __future__ import annotations

from fractions import Fraction

from scoring_helpers import assert_not_computable, by_id

ITEMS = [f"fss{i}" for i in range(1, 10)]


def test_mean_of_nine_items(fss):
    # (4+5+6+3+4+5+2+7+4)/9 = 40/9, shown as 4.44 (Krupp 1989: mean of items)
    answers = dict(zip(ITEMS, [4, 5, 6, 3, 4, 5, 2, 7, 4]))
    assert by_id(fss, answers)["FSS"].exact == Fraction(40, 9)
    assert by_id(fss, answers)["FSS"].as_dict()["display"] == "4.44"


def test_range_edges(fss):
    assert by_id(fss, {i: 1 for i in ITEMS})["FSS"].value == 1.0
    assert by_id(fss, {i: 7 for i in ITEMS})["FSS"].value == 7.0


def test_every_item_required(fss):
    # The published score is the mean of all nine items; min_answered: 9 in fss.yaml.
    assert_not_computable(by_id(fss, {i: 4 for i in ITEMS[:8]})["FSS"])
