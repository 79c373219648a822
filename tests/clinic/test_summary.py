"""The scored summary: data (pro_app.summary), the page in the reader's language, print and PDF."""
from __future__ import annotations

import io
import re

from pypdf import PdfReader

from pro_app.summary import visit_summary

from .conftest import answer


def _seed(app, enrolled):
    patient, visits = enrolled
    baseline, m1 = visits[0], visits[1]
    answer(app, patient["id"], baseline["id"], "patient_global", {"PtGA": 52.3}, actor="patient:tablet(x)")
    answer(app, patient["id"], baseline["id"], "test_wellbeing", {"WB1": 2, "WB2": 3}, actor="patient:tablet(x)", language="en")
    answer(app, patient["id"], baseline["id"], "test_exam", {"EX_neck": 8, "EX_hip": 7, "EX_ck": 12.5})
    answer(app, patient["id"], m1["id"], "patient_global", {"PtGA": 31.5}, actor="patient:tablet(x)")
    return patient, visits


def test_the_summary_holds_scores_ranges_direction_missing_items_and_language(app, enrolled):
    patient, visits = _seed(app, enrolled)
    with app.test_request_context():
        s = visit_summary(app.extensions["pro_app"], patient["id"], visits[0]["id"], "en",
                          app.extensions["pro_app.studies"])
    assert (s.study_code, s.visit_label, s.study) == ("P-001", "Baseline", "Test study")
    by_id = {q.id: q for q in s.questionnaires}
    assert list(by_id) == ["patient_global", "test_wellbeing", "test_exam"]
    (ptga,) = by_id["patient_global"].scores
    assert (ptga.value, ptga.min, ptga.max, ptga.higher_is_better) == (52.3, 0.0, 100.0, False)
    wb = by_id["test_wellbeing"]
    assert wb.language == "en" and wb.filled_by == "patient" and wb.status == "completed"
    assert wb.scores[0].value == 2.5 and wb.scores[0].answered == 2  # mean of 2 and 3 (min_answered 2 of 3)
    assert wb.unanswered == ["How worried have you been?"]
    exam = by_id["test_exam"]
    assert exam.filled_by == "nina" and exam.unanswered == ["Rash"]
    assert exam.scores[0].value == 15 and exam.scores[0].higher_is_better
    trend = next(t for t in s.trends if t.scale == "PtGA")
    assert [p["value"] for p in trend.points] == [52.3, 31.5]
    assert len(trend.chart.segments) == 1 and len(trend.chart.dots) == 2
    assert s.outcome is None  # the baseline visit is what later visits are compared with


def test_the_summary_page_in_swedish_has_decimal_commas_and_swedish_dates(app, physician, enrolled):
    patient, visits = _seed(app, enrolled)
    page = physician.get(f"/staff/patients/{patient['id']}/visits/{visits[0]['id']}/summary")
    assert page.status_code == 200
    text = page.text
    assert "52,3" in text and "2,50" in text and "52.3" not in text
    assert "31 januari 2025" in text  # the due date, in Swedish
    assert "lägre ↓" in text and "högre är bättre" in text
    assert "Hur orolig har du varit?" in text  # unanswered, in the reader's language
    assert "på engelska" in text  # the wellbeing questionnaire was filled in in English
    assert "<svg" in text and "<polyline" in text
    # CSP forbids inline styles and scripts: the chart uses SVG presentation attributes only.
    assert not re.search(r"\sstyle=", text) and "<style" not in text and "<script>" not in text


def test_the_summary_page_in_english_uses_decimal_points(app, physician, enrolled):
    patient, visits = _seed(app, enrolled)
    physician.post("/language", data={"lang": "en"})  # CSRF is on: this must fail...
    with physician.session_transaction() as session:
        session["lang"] = "en"  # ...so set the language as the switch would
    page = physician.get(f"/staff/patients/{patient['id']}/visits/{visits[0]['id']}/summary")
    assert "52.3" in page.text and "January 31, 2025" in page.text and "in English" in page.text


def test_the_print_stylesheet_is_linked_for_printing(app, physician, enrolled):
    patient, visits = _seed(app, enrolled)
    page = physician.get(f"/staff/patients/{patient['id']}/visits/{visits[0]['id']}/summary")
    assert 'media="print" href="/static/print.css"' in page.text
    css = app.test_client().get("/static/print.css").text
    assert "@page" in css and ".staff-nav" in css


def test_the_pdf_is_a_clinical_document_holding_the_scores(app, physician, store, enrolled):
    patient, visits = _seed(app, enrolled)
    response = physician.get(f"/staff/patients/{patient['id']}/visits/{visits[0]['id']}/summary.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="P-001-baseline.pdf"' in response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Poängsammanställning", "P-001", "Baslinje", "52,3", "2,50", "15", "0–100",
                     f"Sida 1 av {len(reader.pages)}", "Hur orolig har du varit?"):
        assert expected in text, expected
    # The running header is on every page.
    assert all("P-001" in page.extract_text() for page in reader.pages)
    assert any(e["action"] == "print" for e in store.audit_entries())


def test_a_visit_with_nothing_answered_still_prints(app, physician, enrolled):
    patient, visits = enrolled
    response = physician.get(f"/staff/patients/{patient['id']}/visits/{visits[2]['id']}/summary.pdf")
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Inte ifyllt" in text


def _core_set(app, patient_id, visit_id, phga, ptga, haq, mmt_right, extramuscular, ck):
    cat = app.extensions["pro_app"]
    haq_items = [a for a in cat.get("haq").answer_ids() if re.fullmatch(r"haq\d[a-c]", a)]
    mmt = {"MMT_neck_flexors": 7}
    for item in cat.get("mmt8").answer_ids():
        if item.endswith("_R"):
            mmt[item] = mmt_right
        elif item.endswith("_L"):
            mmt[item] = 6
    answer(app, patient_id, visit_id, "physician_global", {"PhGA": phga})
    answer(app, patient_id, visit_id, "patient_global", {"PtGA": ptga}, actor="patient:tablet(x)")
    answer(app, patient_id, visit_id, "haq", {i: haq for i in haq_items}, actor="patient:tablet(x)")
    answer(app, patient_id, visit_id, "mmt8", mmt)
    answer(app, patient_id, visit_id, "myoact", {"extramuscular_global": extramuscular})
    answer(app, patient_id, visit_id, "enzymes", {"CK": ck, "CK_ULN": 200, "CK_unit": "U_L"} if "CK_unit" in
           app.extensions["pro_app"].get("enzymes").answer_ids() else {"CK": ck, "CK_ULN": 200})


def test_a_follow_up_summary_shows_the_response_criteria_and_what_drove_them(app, physician, enrolled):
    patient, visits = enrolled
    baseline, m1 = visits[0], visits[1]
    _core_set(app, patient["id"], baseline["id"], phga=60, ptga=70, haq=2, mmt_right=6, extramuscular=40, ck=2000)
    _core_set(app, patient["id"], m1["id"], phga=30, ptga=35, haq=1, mmt_right=7, extramuscular=40, ck=1000)
    s = visit_summary(app.extensions["pro_app"], patient["id"], m1["id"], "sv")
    # Hand-computed (Oddis 2005; Aggarwal 2017, Table 3 as reproduced in Rider 2017):
    # PhGA 60->30, PtGA 70->35, HAQ 2->1, CK 2000->1000 improve by 50 %; MMT 49->56 by 14.3 %;
    # extramuscular unchanged. IMACS: 4 measures improved >= 20 %, none worsened >= 25 % -> met.
    assert s.outcome.imacs.met is True
    assert {d.measure for d in s.outcome.imacs.improved} == {"PhGA", "PtGA", "HAQ", "enzyme"}
    # ACR/EULAR absolute changes: PhGA 30 % -> 17.5, PtGA 35 % -> 7.5, MMT 7/80 = 8.75 % -> 10,
    # HAQ 1/3 = 33.3 % -> 7.5, CK 50 % (relative) -> 7.5, extramuscular 0 % -> 0: total 50, moderate.
    assert s.outcome.acr_eular.total == 50.0 and s.outcome.acr_eular.category == "moderate"

    page = physician.get(f"/staff/patients/{patient['id']}/visits/{m1['id']}/summary").text
    assert 'data-criterion="imacs" data-met="true"' in page
    # Each core set measure's trend, drawn small beside it: a line from baseline to the dot of this visit.
    assert page.count('<svg class="spark"') == 6 and page.count('fill="#a11d1d"') >= 6
    assert "<strong>50,0</strong>" in page and "Måttlig förbättring" in page
    baseline_page = physician.get(f"/staff/patients/{patient['id']}/visits/{baseline['id']}/summary").text
    assert "Detta är baslinjebesöket" in baseline_page


def test_the_exports_carry_the_response_criteria(app, enrolled):
    import csv

    from pro_app.export import export_text

    patient, visits = enrolled
    _core_set(app, patient["id"], visits[0]["id"], phga=60, ptga=70, haq=2, mmt_right=6, extramuscular=40, ck=2000)
    _core_set(app, patient["id"], visits[1]["id"], phga=30, ptga=35, haq=1, mmt_right=7, extramuscular=40, ck=1000)
    cat = app.extensions["pro_app"]
    wide = list(csv.DictReader(io.StringIO(export_text(cat, "csv"))))
    m1 = next(r for r in wide if r["visit"] == "m1")
    assert (m1["outcome_imacs_met"], m1["outcome_acr_eular_total"], m1["outcome_acr_eular_category"]) == ("1", "50", "moderate")
    assert m1["outcome_PhGA_improvement_pct"] == "50"
    assert next(r for r in wide if r["visit"] == "baseline")["outcome_imacs_met"] == ""
    long = list(csv.DictReader(io.StringIO(export_text(cat, "csv-long"))))
    assert {"kind": "outcome", "name": "acr_eular_total", "value": "50"}.items() <= next(
        r for r in long if r["kind"] == "outcome" and r["name"] == "acr_eular_total").items()


def test_numbers_are_rounded_half_up_only_where_they_are_shown(app):
    from fractions import Fraction

    from pro_app.web import number

    with app.test_request_context(headers={"Accept-Language": "sv"}):
        assert number(2.125, 3) == "2,125" and number(2.125, 2) == "2,13"  # half up, not half to even
        assert number(Fraction(13, 6), 3) == "2,167" and number(0.125, 2) == "0,13"
        assert number(44.4027962318693, 1) == "44,4" and number(None) == "–"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert number(2.5, 0) == "3" and number(1234.5, 1) == "1,234.5"


def _pdf_fonts(reader) -> set[str]:
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            fonts.add("/" + str(font.get_object()["/BaseFont"]).split("+")[-1])
    return fonts


def test_the_demo_patients_summary_after_two_visits_is_one_page_with_criteria_and_every_main_score(clinic_dirs, tmp_path):
    # The anakinra study's visit with every instrument filled in: the summary a nurse prints for the physician.
    from pro_app import create_app
    from pro_app.demo import seed_demo
    from pro_app.scoring import score
    from pro_app.web import number

    from helpers import as_staff

    from .conftest import ROOT

    app = create_app({"DATA_DIR": str(tmp_path / "demo"), "QUESTIONNAIRE_DIR": str(ROOT / "questionnaires"),
                      "STUDIES_DIR": str(ROOT / "studies"), "SESSION_COOKIE_SECURE": False, "TESTING": True})
    seed_demo(app, history=2)
    cat = app.extensions["pro_app"]
    patient = cat.store.find_patient("DEMO-001")
    m1 = cat.store.list_visits(patient["id"])[1]
    physician = app.test_client()
    as_staff(physician, cat.store, "doctor", "physician")
    response = physician.get(f"/staff/patients/{patient['id']}/visits/{m1['id']}/summary.pdf")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    for expected in ("Poängsammanställning", "DEMO-001", "Anakinra vid myosit", "1 månad", "Responskriterier",
                     "IMACS definition av förbättring", "ACR/EULAR 2016", "Sida 1 av 1"):
        assert expected in text, expected
    # Every instrument's main scores, as the scorers give them (each is checked against its source elsewhere).
    responses = [r for r in cat.store.list_responses(patient["id"], m1["id"])]
    assert {r["questionnaire"] for r in responses} == set(m1["questionnaires"]) | set(m1["clinician_forms"])
    shown = 0
    with app.test_request_context(headers={"Accept-Language": "sv"}):
        for r in responses:
            for s in score(cat.for_response(r), r["answers"]):
                if not s.detail and s.value is not None:
                    assert number(s.value, s.decimals) in text, (r["questionnaire"], s.id)
                    shown += 1
    assert shown >= 15
    # One family, the running header and footer included (the page number was in another font).
    fonts = _pdf_fonts(reader)
    assert fonts and all(f.startswith("/DejaVu-Sans") for f in fonts), fonts
    # The full report: every scale in detail and the charts, after the one page.
    full = PdfReader(io.BytesIO(physician.get(
        f"/staff/patients/{patient['id']}/visits/{m1['id']}/summary.pdf?full=1").data))
    full_text = "\n".join(p.extract_text() for p in full.pages)
    assert 1 < len(full.pages) <= 6 and "Fullständig rapport" in full_text and "Fysisk funktion" in full_text
    assert "Fysisk funktion" not in text  # an SF-36 scale is detail: the summaries are on the one page
    # No questionnaire's heading or its "Ifyllt ..." line ends a page with its table on the next one.
    titles = {q.title.get("sv") for q in cat.questionnaires.values()}
    for page_no, full_page in enumerate(full.pages[:-1], start=1):
        lines = [line.strip() for line in full_page.extract_text().split("\n") if line.strip()]
        content = lines[:lines.index("Poängsammanställning Studiekod DEMO-001")]  # the running header follows
        assert content[-1] not in titles and not content[-1].startswith("Ifyllt "), (page_no, content[-3:])
    # The full report's trend axes are labelled at round steps: the SF-36 summary scales run from 1.73 to 76.28
    # and -1.27 to 80.74 (their T-score limits), and quarters of that read "1,73 20,37 39,00 57,64 76,28".
    page = physician.get(f"/staff/patients/{patient['id']}/visits/{m1['id']}/summary").text
    for scale, expected in (("sf36.PCS", [20, 40, 60]), ("sf36.MCS", [0, 20, 40, 60, 80]), ("haq.HAQ_DI", [0, 1, 2, 3])):
        figure = page.split(f'data-trend="{scale}"')[1].split("</figure>")[0]
        ticks = re.findall(r'text-anchor="end" fill="#333333">([^<]+)</text>', figure)
        assert [float(t.replace(",", ".").replace("\u2212", "-")) for t in ticks] == expected, (scale, ticks)

