"""The clinic flow in Debian's chromium at a tablet viewport, against a real server.

A nurse logs in on the tablet, registers and enrols a patient, hands the tablet over;
the patient marks the VAS line with a tap and sends; the tablet locks; the nurse unlocks
and downloads the summary PDF, whose text holds the score. No chromium: the test fails.
"""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from pro_app import create_app
from pro_app.auth import hash_password

from browser.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
STUDY = """\
id: browser_study
title: {sv: Webbläsarstudie, en: Browser study}
visits:
  - key: baseline
    label: {sv: Baslinje, en: Baseline}
    offset: {days: 0}
    questionnaires: [patient_global]
  - key: m1
    label: {sv: 1 månad, en: 1 month}
    offset: {months: 1}
    questionnaires: [patient_global]
"""


@pytest.fixture
def live_app(tmp_path, monkeypatch, database):
    questionnaires = tmp_path / "questionnaires"
    questionnaires.mkdir()
    shutil.copy(ROOT / "questionnaires" / "patient_global.yaml", questionnaires)
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "browser_study.yaml").write_text(STUDY, encoding="utf-8")
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "QUESTIONNAIRE_DIR": str(questionnaires),
                      "STUDIES_DIR": str(studies), "SESSION_COOKIE_SECURE": False, "TESTING": True})
    app.extensions["pro_app"].store.create_user("nina", hash_password(PASSWORD), "nurse", "test")
    with LiveServer(app) as server:
        yield app, server.url


@pytest.mark.browser
def test_nurse_patient_tablet_lock_and_pdf(live_app, browser, tmp_path):
    from playwright.sync_api import expect

    app, base = live_app
    store = app.extensions["pro_app"].store
    context = browser.new_context(viewport={"width": 1024, "height": 768}, has_touch=True, is_mobile=True,
                                  locale="sv-SE", accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("#username", "nina")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit].primary")
        expect(page.locator("#register-form")).to_be_visible()

        page.fill("#study_code", "BR-01")
        page.select_option("#study", "browser_study")
        page.fill("#baseline", "2025-01-31")
        page.click("#register-form button[type=submit]")
        expect(page.locator("article[data-visit=baseline]")).to_contain_text("31 jan. 2025")
        expect(page.locator("article[data-visit=m1]")).to_contain_text("28 feb. 2025")

        page.locator("article[data-visit=baseline] form.handoff button").click()
        page.wait_for_url(f"{base}/tablet/")
        page.locator("a.big-row").first.tap()
        track = page.locator(".vas-track")
        expect(track).to_be_visible()
        box, line = track.bounding_box(), page.locator(".vas-line").bounding_box()
        # 60 % along the line itself (the track has room around it for the ends).
        track.tap(position={"x": line["x"] - box["x"] + line["width"] * 0.6, "y": box["height"] / 2})
        expect(page.locator(".vas-mark")).to_be_visible()
        page.locator("button.next").tap()
        page.wait_for_url("**/review")
        page.locator("button.submit").tap()
        page.wait_for_url(f"{base}/tablet/")
        page.locator("form[action$='/tablet/finish'] button").tap()
        page.wait_for_url(f"{base}/tablet/locked")
        expect(page.locator("h1")).to_contain_text("låst")

        # Locked: the staff pages are out of reach until staff unlock.
        page.goto(f"{base}/tablet/")
        assert page.url.endswith("/tablet/locked")
        page.locator(".staff-unlock summary").tap()
        page.fill("#username", "nina")
        page.fill("#password", PASSWORD)
        page.locator(".staff-unlock button[type=submit]").tap()
        patient = store.find_patient("BR-01")
        page.wait_for_url(f"{base}/staff/patients/{patient['id']}")

        (response,) = store.list_responses(patient["id"])
        assert response["status"] == "completed"
        value = response["answers"]["PtGA"]
        assert 55 <= value <= 65
        with page.expect_download() as download_info:
            page.locator("article[data-visit=baseline] a[data-pdf]").click()
        path = tmp_path / "summary.pdf"
        download_info.value.save_as(path)

    finally:
        context.close()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert f"{value:.1f}".replace(".", ",") in text
    assert "BR-01" in text and "Baslinje" in text and "Poängsammanställning" in text
