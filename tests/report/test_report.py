"""The study report's numbers against values computed here, independently, from what was entered.

Quartiles: numpy's default ``linear`` method (Hyndman & Fan type 7), as the report states.
The Wilcoxon p-values are checked twice: against ``scipy.stats.wilcoxon`` on the raw
differences, and against an exact enumeration of every sign pattern written out below.
The criteria are recomputed here from the published definitions with exact fractions:
IMACS (Rider LG et al. Arthritis Rheum 2004;50:2281-90) and the 2016 ACR/EULAR Total
Improvement Score (Aggarwal R et al. Arthritis Rheumatol 2017;69:898-910, Table 3).
"""
from __future__ import annotations

import datetime as dt
import itertools
import math
import sys
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from pro_app.report import build_report

from .conftest import VISITS, code
from .criteria import MEASURES, decide

# The core set's enzyme row is the enzyme each patient is followed on (here always CK) as a
# multiple of the lab's upper limit of normal; CK in U/L is its own row with the enzymes.
CORE = ("PhGA", "PtGA", "HAQ", "MMT", "extramuscular", "CK_xULN")
ROW_OF = {"PhGA": "physician_global.PhGA", "PtGA": "patient_global.PtGA", "HAQ": "haq.HAQ_DI",
          "MMT": "mmt8.MMT8_total", "extramuscular": "myoact.extramuscular_global",
          "CK_xULN": "enzymes.enzyme_followed_xULN", "CK": "enzymes.CK",
          "FI2": "mfi2.FI2_total", "FI2_task": "mfi2.FI2_shoulder_flexion_R"}
# The report computes from exact scores and the expected values here are exact too: the two may
# differ only by the float each ends in, so the tolerance is one float epsilon.
EPS = sys.float_info.epsilon


def same(expected):
    return pytest.approx(float(expected), rel=EPS, abs=EPS)


@pytest.fixture(scope="module")
def report(trial):
    with trial.app.test_request_context():
        return build_report(trial.app.extensions["pro_app"], trial.app.extensions["pro_app.studies"]["trial"], "en",
                            as_of=trial.today)


def _rows(report):
    return {row.measure.key: row for g in report.groups for row in g.rows}


def _raw(trial, measure: str, visit: str) -> list[Fraction]:
    return [trial.values[(code(n), visit)][measure] for n in range(1, 16)
            if (code(n), visit) in trial.values and trial.values[(code(n), visit)][measure] is not None]


def _pairs(trial, measure: str, visit: str) -> list[Fraction]:
    """Follow-up minus baseline, exactly, per patient with both."""
    out = []
    for n in range(1, 16):
        base, follow = trial.values.get((code(n), "baseline")), trial.values.get((code(n), visit))
        if base and follow and base[measure] is not None and follow[measure] is not None:
            out.append(follow[measure] - base[measure])
    return out


def _exact_signed_rank_p(differences: list[Fraction]) -> float:
    """Two-sided exact p of the signed-rank statistic given the observed (mid-)ranks: zeros dropped,
    all 2^n sign patterns enumerated, P(|T+ - E| >= |t - E|). Exact differences: a tie is a tie."""
    d = [x for x in differences if x != 0]
    n = len(d)
    order = sorted(range(n), key=lambda i: abs(d[i]))
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    observed = sum(r for r, x in zip(ranks, d) if x > 0)
    mean = sum(ranks) / 2
    extreme = 0
    for signs in itertools.product((0, 1), repeat=n):
        t = sum(r for r, s in zip(ranks, signs) if s)
        extreme += abs(t - mean) >= abs(observed - mean)  # sums of halves: exact in floats
    return extreme / 2 ** n


@pytest.mark.parametrize("measure", CORE + ("CK", "FI2", "FI2_task"))
def test_medians_and_quartiles_at_every_visit_match_numpy_on_the_raw_values(trial, report, measure):
    row = _rows(report)[ROW_OF[measure]]
    for cell, visit in zip(row.cells, VISITS):
        raw = _raw(trial, measure, visit)
        assert cell.level.n == len(raw), (measure, visit)
        q1, median, q3 = np.percentile([float(x) for x in raw], [25, 50, 75])
        assert (cell.level.q1, cell.level.median, cell.level.q3) == (same(q1), same(median), same(q3)), (measure, visit)


@pytest.mark.parametrize("measure", CORE + ("CK", "FI2", "FI2_task"))
def test_change_from_baseline_and_the_signed_rank_test_match_scipy_and_an_exact_enumeration(trial, report, measure):
    row = _rows(report)[ROW_OF[measure]]
    assert row.cells[0].change is None  # no change at baseline
    for cell, visit in list(zip(row.cells, VISITS))[1:]:
        diffs = _pairs(trial, measure, visit)
        assert cell.change.n == cell.test.n_pairs == len(diffs), (measure, visit)
        q1, median, q3 = np.percentile([float(x) for x in diffs], [25, 50, 75])
        assert (cell.change.q1, cell.change.median, cell.change.q3) == (same(q1), same(median), same(q3)), \
            (measure, visit)
        nonzero = [x for x in diffs if x != 0]
        if not nonzero:
            assert cell.test.p is None
            continue
        assert cell.test.p == pytest.approx(_exact_signed_rank_p(diffs), abs=1e-12), (measure, visit)
        ties = len({abs(x) for x in nonzero}) < len(nonzero)
        assert cell.test.method == ("exact_conditional" if ties else "exact")
        if ties and len(nonzero) > 10:
            continue  # scipy's own permutation route takes seconds here; the enumeration above checked it
        method = stats.PermutationMethod(n_resamples=2 ** len(nonzero)) if ties else "exact"
        expected = stats.wilcoxon([float(x) for x in nonzero], zero_method="wilcox", method=method)
        assert cell.test.p == pytest.approx(expected.pvalue, abs=1e-12)
        assert cell.test.statistic == pytest.approx(expected.statistic)


def _core(values: dict) -> dict:
    """The six core set measures as the criteria take them: the trial records one enzyme, CK (in U/L)."""
    return {m: values[m] for m in MEASURES if m != "enzyme"} | {"enzyme": values["CK"]}


def test_responder_counts_match_the_published_criteria_recomputed_here(trial, report):
    for responders in report.responders:
        imacs_met = imacs_evaluable = 0
        reached = {"minimal": 0, "moderate": 0, "major": 0}
        tis_evaluable = 0
        not_evaluable = []
        for n in range(1, 16):
            visit = trial.visits[(code(n), responders.key)]
            attended = (code(n), responders.key) in trial.values
            if not attended and not (dt.date.fromisoformat(visit["due"]) < trial.today):
                continue  # not due yet: not among the patients counted at this visit
            # A visit that did not take place has every measure missing: decided by nothing.
            follow = _core(trial.values[(code(n), responders.key)]) if attended else dict.fromkeys(MEASURES)
            result = decide(_core(trial.values[(code(n), "baseline")]), follow)
            if result["imacs"] is not None:
                imacs_evaluable += 1
                imacs_met += result["imacs"]
            if result["category"] is not None:
                tis_evaluable += 1
                for j, level in enumerate(("minimal", "moderate", "major")):
                    reached[level] += result["category"] in ("minimal", "moderate", "major")[j:]
            if result["imacs"] is None or result["category"] is None:
                not_evaluable.append(code(n))
        assert (responders.imacs_met, responders.imacs_evaluable) == (imacs_met, imacs_evaluable), responders.key
        assert (responders.tis, responders.tis_evaluable) == (reached, tis_evaluable), responders.key
        assert sorted(r.study_code for r in responders.not_evaluable) == sorted(not_evaluable), responders.key
        assert all(r.imacs_reason for r in responders.not_evaluable)
    m12 = next(r for r in report.responders if r.key == "m12")
    assert "P12" in [r.study_code for r in m12.not_evaluable]  # its HAQ decides both criteria
    assert any(r.imacs_evaluable and r.imacs_met for r in report.responders)


def _expected_state(trial, n: int, key: str) -> str:
    visit = trial.visits[(code(n), key)]
    due = dt.date.fromisoformat(visit["due"])
    window = visit["window_days"]
    if (code(n), key) in trial.completed:
        return "done"
    if window is not None and trial.today > due + dt.timedelta(days=window):
        return "missed"
    if trial.today < due - dt.timedelta(days=window or 0):
        return "not_yet_due"
    return "due" if trial.today <= due else "overdue"


def test_visit_states_follow_the_due_dates_and_windows(trial, report):
    grid = {row.study_code: {c.key: c for c in row.cells} for row in report.grid}
    assert list(grid) == [code(n) for n in range(1, 16)]
    for n in range(1, 16):
        for key in VISITS:
            assert grid[code(n)][key].state == _expected_state(trial, n, key), (n, key)
    # The design of the trial, checked against the dates themselves above, spelled out:
    assert grid["P11"]["m6"].state == "missed"
    assert grid["P13"]["m3"].state == "overdue" and grid["P13"]["m6"].state == "not_yet_due"
    assert grid["P14"]["m1"].state == "due"
    assert grid["P15"]["m1"].state == "missed" and grid["P15"]["m3"].state == "not_yet_due"
    # Forms: P12's 12-month visit took place without its HAQ.
    p12 = grid["P12"]["m12"]
    assert p12.state == "done" and [f.questionnaire for f in p12.missing] == ["haq"] and p12.forms_done == 7
    counts = {c.key: c.states for c in report.counts}
    for key in VISITS:
        expected = {}
        for n in range(1, 16):
            state = _expected_state(trial, n, key)
            expected[state] = expected.get(state, 0) + 1
        assert {s: k for s, k in counts[key].items() if k} == expected, key
    assert [(o.study_code, o.cell.key) for o in report.overdue] == [("P13", "m3")]
    due = dt.date.fromisoformat(trial.visits[("P13", "m3")]["due"])
    assert report.overdue[0].days_overdue == (trial.today - due).days > 0


def test_tolerability_counts_every_event_by_severity_relation_seriousness_and_withdrawal(report):
    t = report.tolerability
    assert len(t.events) == 4 and t.patients_with_event == 3 and t.patients == 15
    severity = {c.label: (c.patients, c.events) for c in t.by_severity}
    assert severity == {"Mild": (2, 2), "Moderate": (1, 1), "Severe": (1, 1), "Life-threatening": (0, 0)}
    relation = {c.label: (c.patients, c.events) for c in t.by_relation}
    assert relation == {"Unrelated": (1, 1), "Unlikely": (1, 1), "Possible": (1, 1), "Probable": (1, 1),
                        "Definite": (0, 0)}
    assert (t.serious.patients, t.serious.events) == (1, 1)
    assert (t.withdrawn.patients, t.withdrawn.events) == (1, 1)
    assert (t.related.patients, t.related.events) == (2, 2)  # possible + probable
    by_patient = {p["study_code"]: p for p in t.by_patient if p["events"]}
    assert {k: v["events"] for k, v in by_patient.items()} == {"P01": 1, "P02": 2, "P05": 1}
    assert by_patient["P02"]["withdrawn"] == 1 and by_patient["P02"]["serious"] == 1


def test_ck_recorded_in_two_units_is_shown_in_one(report):
    rows = _rows(report)
    ck = rows["enzymes.CK"].measure
    assert ck.unit == "U/L"  # the clinic's unit (ten patients recorded U/L, five µkat/L)
    assert ck.core is None  # CK's own row, in its unit, stays with the enzymes
    enzymes = next(g for g in report.groups if g.title == "Muscle enzymes")
    assert [r.measure.key for r in enzymes.rows] == ["enzymes.CK", "enzymes.CK_xULN"]
    # The core set's enzyme: the one the criteria follow, as a multiple of the upper limit, said so.
    core = next(g for g in report.groups if g.core)
    followed = core.rows[-1].measure
    assert (followed.key, followed.core, followed.unit) == ("enzymes.enzyme_followed_xULN", "enzyme", None)
    assert "multiple of the upper limit of normal" in followed.label
    assert followed.enzymes == [("CK (creatine kinase)", 15)]
    # The visit's most abnormal enzyme may be another than the one followed: never a row of its own.
    assert "enzymes.enzyme_most_abnormal" not in rows


def test_lab_values_are_shown_in_the_clinics_unit_converted_exactly(trial):
    with trial.app.test_request_context():
        swedish = build_report(trial.app.extensions["pro_app"], trial.app.extensions["pro_app.studies"]["trial"],
                               "en", as_of=trial.today, lab_unit="ukat_L")
    ck = next(r for g in swedish.groups for r in g.rows if r.measure.key == "enzymes.CK")
    assert ck.measure.unit == "µkat/L"
    for cell, visit in zip(ck.cells, VISITS):
        raw = [Fraction(v["CK"]) / 60 for (_p, k), v in trial.values.items() if k == visit and v["CK"] is not None]
        assert cell.level.n == len(raw) > 0
        assert cell.level.median == pytest.approx(float(np.median([float(x) for x in raw])), rel=1e-12)


def test_a_data_cut_before_the_visits_leaves_them_out(trial):
    with trial.app.test_request_context():
        early = build_report(trial.app.extensions["pro_app"], trial.app.extensions["pro_app.studies"]["trial"], "en",
                             as_of=trial.today - dt.timedelta(days=1))
    # Every form was completed today, so the day before nothing was: no values, visits missed or due.
    assert early.groups == [] and early.plots == [] and early.dataset[1]
    assert {c.state for row in early.grid for c in row.cells} <= {"missed", "overdue", "due", "not_yet_due"}



def test_the_anakinra_study_reports_the_map_and_sf36_scales_with_pcs_and_mcs(tmp_path, database):
    import random

    from benchmarks.seed import sample_answers
    from pro_app import create_app
    from pro_app.studies import enroll

    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "SESSION_COOKIE_SECURE": False})
    cat, study = app.extensions["pro_app"], app.extensions["pro_app.studies"]["anakinra"]
    rng = random.Random(7)
    today = dt.datetime.now(dt.timezone.utc).date()
    for n in (1, 2):
        patient = cat.store.create_patient(f"A{n}", "test", study="anakinra")
        enroll(cat.store, patient["id"], study, today - dt.timedelta(days=40), "test")
        for visit in cat.store.list_visits(patient["id"])[:2]:
            for qid in ("map", "sf36"):
                response = cat.store.start_response(patient["id"], visit["id"], cat.get(qid), "test", "sv")
                cat.store.save_answers(patient["id"], response["id"], "test", sample_answers(cat.get(qid), rng))
                cat.store.complete_response(patient["id"], response["id"], "test")
    with app.test_request_context():
        report = build_report(cat, study, "sv", today)
    titles = [g.title for g in report.groups]
    assert titles == ["MAP", "SF-36"]
    rows = _rows(report)
    for key in ("sf36.PCS", "sf36.MCS", "sf36.PF", "map.MAP_total"):
        assert [c.level.n for c in rows[key].cells] == [2, 2, 0, 0, 0], key
        assert rows[key].cells[1].change.n == 2
    assert rows["sf36.PCS"].measure.label == "Fysisk summaskala"  # the scorer's Swedish label, not its id
    # The MAP is provisional (a reconstruction of the published form): its group and rows say why; SF-36 is not.
    groups = {g.title: g for g in report.groups}
    assert groups["MAP"].provisional.startswith("Frågornas formulering och fördelningen på delskalor")
    assert rows["map.MAP_total"].measure.provisional == groups["MAP"].provisional
    assert groups["SF-36"].provisional is None and rows["sf36.PCS"].measure.provisional is None


def test_the_streamed_exports_say_exactly_what_the_whole_exports_say(trial):
    """Issue 11: written patient by patient (outcome rows and columns, Questionnaires first, included)."""
    from pro_app.export import export_chunks, export_text

    cat = trial.app.extensions["pro_app"]
    counted = []
    for fmt in ("csv", "csv-long", "fhir"):
        chunks = list(export_chunks(cat, fmt, lang="en", progress=counted.append))
        assert "".join(chunks) == export_text(cat, fmt, lang="en"), fmt
    assert "outcome_imacs_met" in export_text(cat, "csv")  # the trial's data has response criteria to export
    assert sum(counted) == 3 * cat.store.response_count() > 0
