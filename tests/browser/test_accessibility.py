"""axe-core in chromium on every page a patient sees, in both languages, and on every staff page: no violation.

Patient pages: the tablet home, every page of every patient questionnaire (SF-36 grids, the VAS,
HAQ...), each review page, a page showing an answer error, the done page and the locked page.
Staff pages, with the demo patient after two visits: login, patients, the patient, calibration, the
confirmation before starting a visit not due, every clinician form (page by page and on one screen),
the scored summary, studies, exports, questionnaire versions and an error page.
"""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from browser.conftest import TABLET, hand_over_visit, staff_login

pytestmark = pytest.mark.browser


def violations(page) -> list[str]:
    """Every axe-core violation, whatever its impact (a moderate one is still a barrier to someone)."""
    results = Axe().run(page)
    found = []
    for v in results.response["violations"]:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:3]
        found.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return found


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_patient_page_passes_axe(live_server, tablet, lang):
    store = live_server.store
    cat = live_server.app.extensions["pro_app"]
    patient_qs = [q for q in cat.questionnaires.values() if q.audience == "patient"]
    patient = store.create_patient("AX-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                            questionnaires=[q.id for q in patient_qs])
    base = live_server.url
    staff_login(tablet, base)
    hand_over_visit(tablet, base, "AX-1", lang=lang)

    problems: dict[str, list[str]] = {}

    def check(name: str) -> None:
        assert tablet.locator("html").get_attribute("lang") == lang, name
        found = violations(tablet)
        if found:
            problems[name] = found

    check("home")
    for q in patient_qs:
        for n in range(len(q.pages)):
            tablet.goto(f"{base}/tablet/q/{q.id}/p/{n}")
            if "/review" in tablet.url:
                break  # later pages are hidden by skip logic until answered
            check(f"{q.id} page {n}")
        tablet.goto(f"{base}/tablet/q/{q.id}/review")
        check(f"{q.id} review")
    # An answer the patient must correct: the error message and its field.
    tablet.goto(f"{base}/tablet/q/sf36/review")
    with tablet.expect_navigation():
        tablet.locator("button[value=submit], button[type=submit].primary").last.tap()
    check("review with missing answers")

    for q in patient_qs:  # everything answered: the done page
        response = store.start_response(patient["id"], visit["id"], q, "test", lang)
        store.complete_response(patient["id"], response["id"], "test")
    tablet.goto(f"{base}/tablet/")
    check("done")
    tablet.goto(f"{base}/tablet/locked")
    check("locked")

    assert not problems, "\n".join(f"{page}: {p}" for page, found in problems.items() for p in found)


# Internal keys, codes and English that must never reach a Swedish staff page.
STAFF_LEAKS = ["baseline", "physician_global", "patient_global", "nurse", "physician", "admin)", "anakinra",
               "ukat_L", "U_L", "HAQ_DI", "xULN", "px/mm", "None", "True", "False", "NaN", "Start on this tablet",
               "Scored summary", "Health Assessment", "Activities Profile", "Fatigue Severity", "Patient global"]


def test_every_staff_page_passes_axe_and_says_nothing_internal(tmp_path, monkeypatch, browser):
    import io
    import re

    from pypdf import PdfReader

    from pro_app import create_app
    from pro_app.demo import DEMO_USERS, seed_demo

    from helpers import LiveServer

    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    app = create_app({"SESSION_COOKIE_SECURE": False})
    seed_demo(app, history=2)
    cat = app.extensions["pro_app"]
    patient = cat.store.find_patient("DEMO-001")
    visits = cat.store.list_visits(patient["id"])
    context = browser.new_context(**TABLET, locale="sv-SE")
    page = context.new_page()
    problems: dict[str, list[str]] = {}

    def check(name: str, url: str | None = None) -> None:
        if url:
            page.goto(url)
        assert page.locator("html").get_attribute("lang") == "sv", name
        found = violations(page)
        text = page.locator("body").inner_text() + "\n" + page.title()
        found += [f"'{w}' on a Swedish page" for w in STAFF_LEAKS
                  if re.search(r"(?<![\w_])" + re.escape(w) + r"(?![\w_])", text)]
        # A measurement with a decimal point ("3.780 px/mm", "25.0 mm"): Swedish writes a decimal comma.
        found += [f"a decimal point: {m!r}" for m in re.findall(r"\d+\.\d+\s?(?:mm|%|µkat/L|U/L|px)", text)]
        if found:
            problems[name] = found

    with LiveServer(app) as server:
        base = server.url
        try:
            check("login", f"{base}/login")
            staff_login(page, base, "doctor", DEMO_USERS["doctor"][0])
            check("patients")
            check("patient", f"{base}/staff/patients/{patient['id']}")
            check("calibration", f"{base}/staff/calibrate")
            page.goto(f"{base}/staff/patients/{patient['id']}")
            page.locator(f"article[data-visit='{visits[-1]['key']}'] form.handoff button").click()
            page.wait_for_load_state()
            check("confirm start")
            for qid in visits[1]["clinician_forms"]:
                q = cat.get(qid)
                forms = f"{base}/staff/patients/{patient['id']}/visits/{visits[2]['id']}/forms/{qid}"
                check(f"{qid} on one screen", f"{forms}/all")
                for n in range(len(q.visible_pages({}))):
                    check(f"{qid} page {n + 1}", f"{forms}/p/{n}")
            check("summary", f"{base}/staff/patients/{patient['id']}/visits/{visits[1]['id']}/summary")
            # Printed from the browser, the summary is its one page too (the full report only stays on screen).
            printed = PdfReader(io.BytesIO(page.pdf(format="A4")))
            if len(printed.pages) != 1:
                problems["summary printed"] = [f"{len(printed.pages)} pages"]
            check("summary, nothing filled in", f"{base}/staff/patients/{patient['id']}/visits/{visits[2]['id']}/summary")
            check("studies", f"{base}/staff/studies/")
            check("study", f"{base}/staff/studies/anakinra")
            check("not found", f"{base}/staff/patients/nobody")
            page.goto(f"{base}/staff/")
            page.get_by_role("button", name="Logga ut").click()
            staff_login(page, base, "admin", DEMO_USERS["admin"][0])
            check("exports", f"{base}/staff/export")
            check("questionnaire versions", f"{base}/staff/admin/questionnaires")
        finally:
            context.close()
    assert not problems, "\n".join(f"{page}: {p}" for page, found in problems.items() for p in found)
