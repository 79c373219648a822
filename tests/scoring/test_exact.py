"""Exact numbers: how a stored answer is read, and how a number is rounded only for display."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from pro_app.scoring import Scale, as_exact, display_number


def test_a_stored_decimal_is_read_exactly():
    assert as_exact(41.84) == Fraction(4184, 100)  # not the binary float 41.8399999999999963...
    assert as_exact(0.1) + as_exact(0.2) == as_exact(0.3)
    assert as_exact(3) == 3 and as_exact(Fraction(5, 6)) == Fraction(5, 6)
    assert as_exact(Decimal("2.125")) == Fraction(17, 8) and as_exact("3,5") == Fraction(7, 2)
    with pytest.raises(TypeError):
        as_exact(True)
    with pytest.raises(ValueError):
        as_exact(float("inf"))


def test_a_scale_keeps_the_fraction_and_its_unrounded_float():
    s = Scale(id="x", label={"sv": "x", "en": "x"}, value=Fraction(13, 6), min=0, max=3, higher_is_better=False,
              answered=6, items=8, decimals=3)
    assert s.exact == Fraction(13, 6) and s.value == 13 / 6 and s.computable
    assert s.as_dict()["exact"] == "13/6" and s.as_dict()["display"] == "2.167"
    missing = Scale(id="x", label={"sv": "x", "en": "x"}, value=None, min=0, max=3, higher_is_better=False,
                    answered=0, items=8)
    assert missing.exact is None and not missing.computable and missing.as_dict()["display"] is None


@pytest.mark.parametrize("value, decimals, shown", [
    (Fraction(17, 8), 3, "2.125"), (Fraction(1, 8), 2, "0.13"), (Fraction(-1, 8), 2, "-0.13"),
    (Fraction(5, 2), 0, "3"), (Fraction(1, 2), 0, "1"), (0.6, 0, "1"), (-0.6, 0, "-1"), (0.004, 2, "0.00"), (-0.004, 2, "0.00"), (44.4027962318693, 1, "44.4"), (100, 1, "100.0"),
])
def test_display_rounds_half_away_from_zero_only_for_display(value, decimals, shown):
    assert display_number(value, decimals) == shown


def test_a_single_item_scale_counts_its_one_item():
    from pro_app.scoring import UNMARKED, single_item_scale

    marked = single_item_scale("v", {"sv": "v", "en": "v"}, Fraction(1, 2), "item", min=0, max=100,
                               higher_is_better=False, reason=UNMARKED)
    unmarked = single_item_scale("v", {"sv": "v", "en": "v"}, None, "item", min=0, max=100,
                                 higher_is_better=False, reason=UNMARKED)
    assert (marked.answered, marked.items, marked.missing, marked.reason, marked.decimals) == (1, 1, [], None, 1)
    assert (unmarked.answered, unmarked.items, unmarked.missing, unmarked.reason) == (0, 1, ["item"], UNMARKED)
