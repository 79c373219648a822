"""The core set's enzyme and criteria decided with measures missing, in a small study of known values.

E1 is followed on CK (6 x ULN at baseline against aldolase's 1.2) and at 1 month has CK in µkat/L
while aldolase, now 4 x ULN, is that visit's most abnormal enzyme. E2 is followed on aldolase
(4 x ULN against CK's 0.75), recorded in U/L at baseline and µkat/L at 1 month. E3, E4 and E5 have
no HAQ at 1 month: E3 improved on the other five (IMACS met and ACR/EULAR major whatever the HAQ),
E4 worsened (not met, no improvement, whatever the HAQ), E5 is decided by its HAQ either way.
Every expected number is computed here from what was entered.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
from fractions import Fraction

import numpy as np
import pytest

from pro_app import create_app
from pro_app.report import build_report
from pro_app.studies import enroll
from pro_app.study_pages import render_report

from .conftest import HERE, ROOT, _answer
from .criteria import MEASURES, decide

ENZYMES = ("CK", "aldolase")
U_PER_UKAT = 60  # 1 µkat/L = 60 U/L
# Patient -> visit -> what was entered: the five clinical measures, the HAQ category score (None: no
# HAQ form) and each enzyme as (value, unit, upper limit of normal in the same unit).
ENTERED = {
    "E1": {
        "baseline": dict(PhGA=60, PtGA=60, HAQ=2, MMT=6, extramuscular=40,
                         CK=(1200, "U_L", 200), aldolase=(9, "U_L", 7.5)),
        "m1": dict(PhGA=30, PtGA=40, HAQ=1, MMT=8, extramuscular=20,
                   CK=(5, "ukat_L", 3.3), aldolase=(0.5, "ukat_L", 0.125)),
    },
    "E2": {
        "baseline": dict(PhGA=50, PtGA=55, HAQ=1, MMT=7, extramuscular=30,
                         CK=(150, "U_L", 200), aldolase=(30, "U_L", 7.5)),
        "m1": dict(PhGA=45, PtGA=50, HAQ=1, MMT=7, extramuscular=30,
                   CK=(150, "U_L", 200), aldolase=(0.1, "ukat_L", 0.125)),
    },
    "E3": {
        "baseline": dict(PhGA=60, PtGA=60, HAQ=2, MMT=5, extramuscular=50, CK=(1000, "U_L", 200)),
        "m1": dict(PhGA=20, PtGA=20, HAQ=None, MMT=7, extramuscular=10, CK=(200, "U_L", 200)),
    },
    "E4": {
        "baseline": dict(PhGA=40, PtGA=40, HAQ=1, MMT=8, extramuscular=20, CK=(300, "U_L", 200)),
        "m1": dict(PhGA=60, PtGA=60, HAQ=None, MMT=8, extramuscular=20, CK=(600, "U_L", 200)),
    },
    "E5": {
        "baseline": dict(PhGA=50, PtGA=50, HAQ=2, MMT=8, extramuscular=20, CK=(300, "U_L", 200)),
        "m1": dict(PhGA=36, PtGA=38, HAQ=None, MMT=8, extramuscular=20, CK=(300, "U_L", 200)),
    },
}
EPS = sys.float_info.epsilon


def exact(x) -> Fraction:
    return Fraction(str(x))


def ratio(entry) -> Fraction:
    """An enzyme's multiple of the upper limit: value and limit are in the same (the lab's) unit."""
    value, _unit, uln = entry
    return exact(value) / exact(uln)


def in_u_per_l(entry) -> Fraction:
    value, unit, _uln = entry
    return exact(value) * (U_PER_UKAT if unit == "ukat_L" else 1)


def followed(patient: str) -> str:
    """The enzyme with the highest multiple of its upper limit at baseline (ties: CK first)."""
    base = ENTERED[patient]["baseline"]
    return max((e for e in ENZYMES if e in base), key=lambda e: ratio(base[e]))


def core(patient: str, visit: str) -> dict:
    """The six core set measures as the criteria take them, exactly; the enzyme in U/L."""
    v = ENTERED[patient][visit]
    return {"PhGA": exact(v["PhGA"]), "PtGA": exact(v["PtGA"]),
            "HAQ": None if v["HAQ"] is None else Fraction(v["HAQ"]),  # every category the same score
            "MMT": Fraction(8 * v["MMT"]), "extramuscular": exact(v["extramuscular"]),  # neck + 7 right
            "enzyme": in_u_per_l(v[followed(patient)])}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("enzymes")
    app = create_app({"DATA_DIR": str(tmp / "data"), "STUDIES_DIR": str(HERE / "studies"),
                      "QUESTIONNAIRE_DIR": str(ROOT / "questionnaires"), "SESSION_COOKIE_SECURE": False,
                      "TESTING": True, "ENZYME_UNIT": "U_L"})  # a clinic whose lab reports U/L
    cat = app.extensions["pro_app"]
    trial = app.extensions["pro_app.studies"]["trial"]
    today = dt.datetime.now(dt.timezone.utc).date()
    haq_items = [a for a in cat.get("haq").answer_ids() if re.fullmatch(r"haq\d[a-c]", a)]
    mmt_items = cat.get("mmt8").answer_ids()
    for patient_code, visits in ENTERED.items():
        patient = cat.store.create_patient(patient_code, "test", study="trial")
        enroll(cat.store, patient["id"], trial, today - dt.timedelta(days=35), "test")
        stored = {v["key"]: v for v in cat.store.list_visits(patient["id"])}
        for key, v in visits.items():
            enzymes = {}
            for e in ENZYMES:
                if e in v:
                    value, unit, uln = v[e]
                    enzymes.update({e: value, f"{e}_unit": unit, f"{e}_ULN": uln})
            forms = {
                "physician_global": {"PhGA": v["PhGA"]}, "patient_global": {"PtGA": v["PtGA"]},
                "myoact": {"extramuscular_global": v["extramuscular"]}, "enzymes": enzymes,
                "mmt8": {item: v["MMT"] if item == "MMT_neck_flexors" or item.endswith("_R") else 6
                         for item in mmt_items if item.startswith("MMT_")},
            }
            if v["HAQ"] is not None:
                forms["haq"] = {item: v["HAQ"] for item in haq_items}
            for qid, answers in forms.items():
                _answer(cat, patient["id"], stored[key]["id"], qid, answers)
    with app.test_request_context():
        return app, build_report(cat, trial, "en", today)


def _row(report, key):
    return next(row for g in report.groups for row in g.rows if row.measure.key == key)


def test_the_core_set_enzyme_is_each_patients_followed_enzyme_as_a_multiple_of_its_upper_limit(study):
    _app, report = study
    assert {p: followed(p) for p in ENTERED} == {"E1": "CK", "E2": "aldolase", "E3": "CK", "E4": "CK", "E5": "CK"}
    # E1's most abnormal enzyme at 1 month is aldolase (4 x ULN), not the CK it is followed on.
    assert ratio(ENTERED["E1"]["m1"]["aldolase"]) > ratio(ENTERED["E1"]["m1"]["CK"])
    row = _row(report, "enzymes.enzyme_followed_xULN")
    core = next(g for g in report.groups if g.core)
    assert row in core.rows and row.measure.core == "enzyme" and row.measure.unit is None
    assert row.measure.enzymes == [("CK (creatine kinase)", 4), ("Aldolase", 1)]
    codes = list(ENTERED)
    base = [ratio(ENTERED[p]["baseline"][followed(p)]) for p in codes]
    month = [ratio(ENTERED[p]["m1"][followed(p)]) for p in codes]
    assert month[:2] == [Fraction(50, 33), Fraction(4, 5)]  # 5 / 3.3 µkat/L and 0.1 / 0.125 µkat/L
    for cell, values in zip(row.cells, (base, month)):
        q1, median, q3 = np.percentile([float(x) for x in values], [25, 50, 75])
        assert (cell.level.n, cell.level.q1, cell.level.median, cell.level.q3) == (
            5, pytest.approx(q1, rel=EPS, abs=EPS), pytest.approx(median, rel=EPS, abs=EPS),
            pytest.approx(q3, rel=EPS, abs=EPS))
    diffs = [float(m - b) for b, m in zip(base, month)]
    q1, median, q3 = np.percentile(diffs, [25, 50, 75])
    change = row.cells[1].change
    assert (change.n, change.q1, change.median, change.q3) == (
        5, pytest.approx(q1, rel=EPS, abs=EPS), pytest.approx(median, rel=EPS, abs=EPS),
        pytest.approx(q3, rel=EPS, abs=EPS))
    # The listing behind the row names each patient's enzyme.
    listing = dict((m.key, rows) for m, rows in report.listings)["enzymes.enzyme_followed_xULN"]
    assert [(r["study_code"], r["note"]) for r in listing] == [
        ("E1", "CK (creatine kinase)"), ("E2", "Aldolase"), ("E3", "CK (creatine kinase)"),
        ("E4", "CK (creatine kinase)"), ("E5", "CK (creatine kinase)")]
    plot = next(p for p in report.plots if p.measure.key == "enzymes.enzyme_followed_xULN")
    assert plot.reference_y is not None  # 1 x the upper limit of normal, drawn
    assert plot.better_label_y < plot.reference_y < plot.bottom  # "better" above the line, not struck through
    # The axis fits the data (0 to 10 x ULN here) and its ticks are shown as they are (7.5, not "8").
    assert [t["value"] for t in plot.y_ticks] == [0, 2.5, 5, 7.5, 10] and plot.tick_decimals == 1


def test_each_enzyme_keeps_its_own_row_in_one_unit_converted_exactly(study):
    _app, report = study
    ck, aldolase = _row(report, "enzymes.CK"), _row(report, "enzymes.aldolase")
    assert (ck.measure.unit, aldolase.measure.unit) == ("U/L", "U/L")  # the clinic's unit, as on its summaries
    assert ck.measure.core is None and aldolase.measure.core is None
    for row, enzyme in ((ck, "CK"), (aldolase, "aldolase")):
        for cell, visit in zip(row.cells, ("baseline", "m1")):
            values = [float(in_u_per_l(ENTERED[p][visit][enzyme])) for p in ENTERED if enzyme in ENTERED[p][visit]]
            assert cell.level.n == len(values)
            assert cell.level.median == pytest.approx(np.median(values), rel=EPS, abs=EPS)
    # E1's CK: 1200 U/L, then 5 µkat/L = 300 U/L; E2's aldolase: 30 U/L, then 0.1 µkat/L = 6 U/L.
    listing = dict((m.key, rows) for m, rows in report.listings)
    e1 = next(r for r in listing["enzymes.CK"] if r["study_code"] == "E1")
    e2 = next(r for r in listing["enzymes.aldolase"] if r["study_code"] == "E2")
    assert [v for v, _visit in e1["values"][:2]] == [1200, 300]
    assert [v for v, _visit in e2["values"][:2]] == [30, 6]


def test_criteria_decided_despite_missing_measures_count_as_evaluable_and_say_so(study):
    _app, report = study
    month = next(r for r in report.responders if r.key == "m1")
    expected = {p: decide(core(p, "baseline"), core(p, "m1")) for p in ENTERED}
    # What the independent computation says, spelled out for the three patients without a HAQ:
    assert (expected["E3"]["imacs"], expected["E3"]["category"], expected["E3"]["total"]) == (True, "major", None)
    assert (expected["E3"]["low"], expected["E3"]["high"]) == (Fraction(135, 2), Fraction(155, 2))  # 67.5-77.5
    assert (expected["E4"]["imacs"], expected["E4"]["category"]) == (False, "none")
    assert (expected["E4"]["low"], expected["E4"]["high"]) == (0, Fraction(15, 2))  # HAQ 1 -> 0 is 33 %: 7.5
    assert (expected["E5"]["imacs"], expected["E5"]["category"]) == (None, None)
    decided = [p for p in ENTERED if expected[p]["imacs"] is not None]
    assert (month.imacs_met, month.imacs_evaluable) == (sum(expected[p]["imacs"] for p in decided), len(decided))
    tis = [p for p in ENTERED if expected[p]["category"] is not None]
    levels = ("minimal", "moderate", "major")
    assert month.tis_evaluable == len(tis)
    assert month.tis == {level: sum(expected[p]["category"] in levels[j:] for p in tis) for j, level in enumerate(levels)}
    rows = {r.study_code: r for r in month.rows}
    for p in ENTERED:
        r = rows[p]
        assert (r.imacs, r.tis_category) == (expected[p]["imacs"], expected[p]["category"]), p
        assert (r.tis_total is None) == (expected[p]["total"] is None), p
        if r.tis_total is not None:
            assert r.tis_total == float(expected[p]["total"]), p
        assert (r.tis_min, r.tis_max) == (float(expected[p]["low"]), float(expected[p]["high"])), p
    # Decided with the HAQ missing: counted, and footnoted with the measure named; E5 is listed with the reason.
    assert [r.study_code for r in month.despite_missing] == ["E3", "E4"]
    assert month.imacs_despite_missing == month.tis_despite_missing == 2 and month.footnote == 1
    assert rows["E3"].missing == rows["E4"].missing == ["HAQ disability index"]
    assert [r.study_code for r in month.not_evaluable] == ["E5"]
    assert "HAQ disability index" in rows["E5"].imacs_reason and "HAQ disability index" in rows["E5"].tis_reason


def test_the_responder_table_footnotes_the_patients_decided_despite_missing_measures(study):
    app, _report = study
    cat, trial = app.extensions["pro_app"], app.extensions["pro_app.studies"]["trial"]
    expected = [decide(core(p, "baseline"), core(p, "m1"))["imacs"] for p in ENTERED]
    met, evaluable = sum(x is True for x in expected), sum(x is not None for x in expected)
    assert (met, evaluable) == (2, 4)  # E1 and E3 of E1-E4
    with app.test_request_context():
        sv = build_report(cat, trial, "sv", dt.datetime.now(dt.timezone.utc).date())
        html = render_report(sv, "html").decode()
    table = html[html.index('class="report-table responders"'):]
    table = table[:table.index("</table>")]
    imacs = re.search(r'data-row="imacs">(.*?)</tr>', table, re.S).group(1)
    assert '2/4 (50&nbsp;%)</a><sup class="footnote-mark"><a href="#fn-r1">1</a></sup>' in imacs
    notes = html[html.index('<ol class="footnotes">'):]
    notes = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", notes[:notes.index("</ol>")]))
    assert "1 månad: räknas som bedömbara trots att kärnmått saknas" in notes
    assert "E3 (saknas: HAQ funktionsindex): IMACS uppfyllt; ACR/EULAR stor förbättring, totalt 67,5 till 77,5" in notes
    assert "E4 (saknas: HAQ funktionsindex): IMACS inte uppfyllt; ACR/EULAR ingen förbättring, totalt 0,0 till 7,5" \
        in notes
    # The core set's enzyme row in Swedish: its label, the enzymes followed, and no internal id.
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[html.index('<section class="report-section" id="cohort">'):]))
    assert "Muskelenzymet som var mest avvikande vid baslinjen, multipel av övre referensgränsen" in text
    assert "Enzym som följs (antal patienter): CK (kreatinkinas) 4, Aldolas 1" in text
    assert "Aldolas, U/L" in text
    assert not re.search(r"\b(aldolase|ukat_L|U_L|enzyme_most_abnormal|enzyme_followed_xULN|xULN)\b", text)
    # E5's visit is overdue (its HAQ may still come) but was measured: the list says both.
    listed = html[html.index('<ul class="not-evaluable">'):]
    listed = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", listed[:listed.index("</ul>")]))
    assert re.search(r"E5: besöket försenat · IMACS: .*HAQ funktionsindex.* · ACR/EULAR: .*HAQ funktionsindex", listed)


def test_the_analysis_dataset_names_the_enzyme_followed_and_the_range_of_a_decided_total(study):
    import csv
    import io

    from pro_app.report import analysis_csv

    _app, report = study
    rows = {(r["study_code"], r["visit"]): r for r in csv.DictReader(io.StringIO(analysis_csv(report)))}
    for p in ENTERED:
        assert rows[(p, "baseline")]["enzyme_followed"] == rows[(p, "m1")]["enzyme_followed"] == followed(p)
        for visit in ("baseline", "m1"):
            # The core set's enzyme column: the followed enzyme's value / upper limit, unrounded.
            assert float(rows[(p, visit)]["enzymes.enzyme_followed_xULN"]) == \
                float(ratio(ENTERED[p][visit][followed(p)]))
    e3 = rows[("E3", "m1")]
    expected = decide(core("E3", "baseline"), core("E3", "m1"))
    assert (e3["imacs_improvement_met"], e3["acr_eular_total"], e3["acr_eular_category"]) == ("1", "", "major")
    assert (float(e3["acr_eular_total_min"]), float(e3["acr_eular_total_max"])) == (expected["low"], expected["high"])
    assert e3["criteria_measures_missing"] == "HAQ"
    e1 = rows[("E1", "m1")]
    assert float(e1["acr_eular_total"]) == decide(core("E1", "baseline"), core("E1", "m1"))["total"]
    assert e1["criteria_measures_missing"] == ""
