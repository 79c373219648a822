"""The report's statistics and visit states on small known cases."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from pro_app.report import describe, signed_rank, visit_state

# Darwin's Zea mays data as used by Fisher (The Design of Experiments, 1935) and in Wilcoxon's
# 1945 paper: cross- minus self-fertilised height differences (eighths of an inch), 15 pairs, no ties.
DARWIN = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]


def test_darwins_data_give_the_exact_p_of_the_signed_rank_distribution():
    result = signed_rank(DARWIN)
    assert result.method == "exact" and result.n_nonzero == 15
    assert result.statistic == 24  # the two negative differences have ranks 10 and 14
    assert result.p == pytest.approx(0.0413, abs=5e-5)  # as in scipy's documentation of this example
    # P(T <= 24) counted from the exact null distribution of T for n = 15; two-sided doubles it.
    counts = np.zeros(121, dtype=np.int64)
    counts[0] = 1
    for rank in range(1, 16):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    assert counts[:25].sum() == 676 and result.p == pytest.approx(2 * 676 / 2 ** 15)


def test_zero_differences_are_dropped_and_ties_use_the_exact_conditional_distribution():
    diffs = [0.0, 0.0, 0.5, 0.5, -0.25, 1.0, 0.5, 1.0]
    result = signed_rank(diffs)
    assert (result.n_pairs, result.n_nonzero, result.method) == (8, 6, "exact_conditional")
    expected = stats.wilcoxon([d for d in diffs if d], method=stats.PermutationMethod(n_resamples=64))
    assert result.p == pytest.approx(expected.pvalue) and result.statistic == pytest.approx(expected.statistic)


def test_float_noise_does_not_split_a_tie():
    # 55.3 - 42.1 and 23.4 - 10.2 are both 13.2, but not as floats.
    assert 55.3 - 42.1 != 23.4 - 10.2
    assert signed_rank([55.3 - 42.1, 23.4 - 10.2, 3.0]).method == "exact_conditional"


def test_large_samples_with_ties_use_the_normal_approximation_with_the_tie_correction():
    rng = np.random.default_rng(1)
    diffs = list(rng.integers(-3, 6, size=40).astype(float))
    result = signed_rank(diffs)
    nonzero = [d for d in diffs if d]
    expected = stats.wilcoxon(nonzero, method="asymptotic", correction=False)
    assert result.method == "normal" and result.p == pytest.approx(expected.pvalue)


def test_nothing_to_test():
    assert signed_rank([]).p is None and signed_rank([0.0, 0.0]).method == "none"
    assert describe([]).n == 0 and describe([]).median is None


def test_quartiles_are_hyndman_fan_type_7():
    # Type 7 on 1..4: Q1 = 1.75, median 2.5, Q3 = 3.25 (R's quantile(1:4) default).
    s = describe([4.0, 1.0, 3.0, 2.0])
    assert (s.n, s.q1, s.median, s.q3) == (4, 1.75, 2.5, 3.25)


DUE = dt.date(2025, 3, 31)


@pytest.mark.parametrize(("today", "window", "done", "expected"), [
    (dt.date(2025, 3, 16), 14, 0, "not_yet_due"),
    (dt.date(2025, 3, 17), 14, 0, "due"),  # the window opens 14 days before
    (DUE, 14, 0, "due"),
    (dt.date(2025, 4, 1), 14, 0, "overdue"),
    (dt.date(2025, 4, 14), 14, 0, "overdue"),  # the last day of the window
    (dt.date(2025, 4, 15), 14, 0, "missed"),
    (dt.date(2025, 4, 15), 14, 3, "done"),  # took place, forms missing
    (dt.date(2025, 4, 1), 14, 3, "overdue"),  # still open: the rest can be filled in
    (dt.date(2025, 3, 20), 14, 8, "done"),
    (dt.date(2026, 1, 1), None, 0, "overdue"),  # no window: overdue until done, never missed
    (dt.date(2025, 3, 30), None, 0, "not_yet_due"),
])
def test_visit_states(today, window, done, expected):
    assert visit_state(today, DUE, window, done, 8) == expected
