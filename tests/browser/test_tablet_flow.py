"""The patient's tablet flow in headless Chromium at a tablet viewport, with touch."""
from __future__ import annotations

import pytest

from browser.conftest import hand_over_visit, staff_login

pytestmark = pytest.mark.browser


def _setup_visit(server, questionnaires):
    store = server.store
    patient = store.create_patient("DEMO-001", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                            questionnaires=questionnaires)
    return patient, visit


def _tap_line_at(page, item_id: str, fraction: float) -> float:
    """Tap the VAS line at a fraction of its length; return the line's length in CSS px."""
    line = page.locator(f"[data-vas='{item_id}'] .vas-line")
    box = line.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    return box["width"]


def test_vas_untouched_is_unanswered_then_tapped_and_stored_in_mm(live_server, tablet):
    patient, visit = _setup_visit(live_server, ["patient_global"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001", lang="sv")

    # The patient sees Swedish, and only their own questionnaires.
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("link", name="Patientens helhetsbedömning av sjukdomsaktivitet").tap()
    page.wait_for_url("**/p/0")
    assert page.get_by_text("Hur aktiv har din muskelsjukdom varit").is_visible()

    # No handle until the line is touched.
    assert page.locator("[data-vas='PtGA'] .vas-mark").is_hidden()
    assert page.locator("[data-vas='PtGA'] .vas-track").get_attribute("aria-valuetext") == "Inte markerad"
    # Touch targets are large enough for weak hands.
    for button in page.locator("button").all():
        box = button.bounding_box()
        if box:
            assert box["height"] >= 48 and box["width"] >= 48, button.inner_text()

    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/review")
    assert page.locator("[data-unanswered='PtGA']").is_visible()  # untouched is unanswered, never 0
    page.locator("[data-unanswered='PtGA'] a").tap()
    page.wait_for_url("**/p/0")

    width = _tap_line_at(page, "PtGA", 0.3)
    assert page.locator("[data-vas='PtGA'] .vas-mark").is_visible()
    assert page.locator("[data-vas='PtGA'] .vas-track").get_attribute("aria-valuetext") == "Markerad"
    # The number is never shown to the patient.
    assert "30" not in page.locator("[data-vas='PtGA']").inner_text()
    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/review")
    assert page.locator("[data-unanswered='PtGA']").count() == 0
    page.get_by_role("button", name="Skicka svaren").tap()
    page.wait_for_url("**/tablet/")
    assert page.get_by_text("Alla dina formulär är ifyllda").is_visible()

    [response] = live_server.store.list_responses(patient["id"])
    assert response["status"] == "completed"
    assert response["answers"]["PtGA"] == pytest.approx(30.0, abs=0.6)
    meta = response["item_meta"]["PtGA"]
    assert meta["touched"] is True and meta["line_px"] == pytest.approx(width, abs=0.2)
    assert meta["px_per_mm"] == pytest.approx(96 / 25.4, abs=0.001) and meta["calibrated"] is False

    # The patient finishes: the tablet locks, and Back shows nothing of the answers.
    page.get_by_role("button", name="Avsluta och lås surfplattan").tap()
    page.wait_for_url("**/tablet/locked")
    page.go_back()
    assert "Hur aktiv" not in page.content()


def test_vas_drag_and_keyboard(live_server, tablet):
    patient, visit = _setup_visit(live_server, ["patient_global"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001")
    page.goto(f"{live_server.url}/tablet/q/patient_global")
    track = page.locator("[data-vas='PtGA'] .vas-track")
    track.focus()
    page.keyboard.press("ArrowRight")  # the first key press places the mark in the middle
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == "50.0"
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == "59.0"
    page.keyboard.press("End")
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == "100.0"
    # Dragging with a finger moves the mark along the line.
    box = page.locator("[data-vas='PtGA'] .vas-line").bounding_box()
    y = box["y"] + 1
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=5)
    page.mouse.up()
    assert float(page.locator("[data-vas='PtGA'] .vas-value").input_value()) == pytest.approx(75.0, abs=0.6)
    page.get_by_role("button", name="Ta bort min markering").tap()
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == ""


def test_calibrated_tablet_draws_a_100_mm_line(live_server, tablet):
    _setup_visit(live_server, ["patient_global"])
    page = tablet
    staff_login(page, live_server.url)
    page.goto(f"{live_server.url}/staff/calibrate")
    before = page.locator("#calibration-line").bounding_box()["width"]
    page.get_by_role("button", name="+ 1 mm").tap()
    page.get_by_role("button", name="Spara för den här surfplattan").tap()
    after = page.locator("#calibration-line").bounding_box()["width"]
    assert after == pytest.approx(before * 1.01, abs=0.5)
    page.goto(f"{live_server.url}/staff/")
    hand_over_visit(page, live_server.url, "DEMO-001")
    page.goto(f"{live_server.url}/tablet/q/patient_global")
    assert page.locator("[data-vas='PtGA'] .vas-line").bounding_box()["width"] == pytest.approx(after, abs=0.5)
    _tap_line_at(page, "PtGA", 0.5)
    assert page.locator("[data-vas='PtGA'] .vas-meta-calibrated").input_value() == "1"


def test_interrupted_halfway_then_resumed(live_server, tablet, browser):
    patient, visit = _setup_visit(live_server, ["all_types", "patient_global"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001")
    page.get_by_role("link", name="Alla frågetyper").tap()
    page.wait_for_url("**/p/0")
    page.locator("label.option", has_text="Nej").tap()
    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/p/1")
    page.locator("#item-pain label.option", has_text="4").tap()
    _tap_line_at(page, "fatigue", 0.8)
    page.wait_for_timeout(900)  # the page saves itself shortly after each change

    # The tablet sleeps and the browser tab is gone; later the same tablet is picked up again.
    cookies = page.context.cookies()
    page.close()
    page = page.context.new_page()
    page.goto(f"{live_server.url}/tablet/")
    assert page.get_by_text("Fortsätt").first.is_visible()
    page.get_by_role("link", name="Alla frågetyper").tap()
    page.wait_for_url("**/p/1")
    assert page.locator("#item-pain input[value='4']").is_checked()
    assert page.locator("[data-vas='fatigue'] .vas-mark").is_visible()
    assert cookies  # the tablet's session survived

    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/p/2")
    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/review")
    page.get_by_role("button", name="Skicka svaren").tap()
    page.wait_for_url("**/tablet/")
    stored = next(r for r in live_server.store.list_responses(patient["id"]) if r["questionnaire"] == "all_types")
    assert stored["status"] == "completed"
    assert stored["answers"]["smoker"] == 0 and stored["answers"]["pain"] == 4
    assert stored["answers"]["fatigue"] == pytest.approx(80.0, abs=0.6)


def test_english_on_the_tablet(live_server, tablet):
    _setup_visit(live_server, ["patient_global"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001", lang="en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Patient global assessment of disease activity").tap()
    page.wait_for_url("**/p/0")
    assert page.get_by_text("Considering all your symptoms").is_visible()
    page.get_by_role("button", name="Svenska").tap()
    page.wait_for_load_state()
    page.get_by_text("Hur aktiv har din muskelsjukdom").wait_for()
    assert page.get_by_text("Hur aktiv har din muskelsjukdom").is_visible()


def test_tablet_cannot_open_staff_pages(live_server, tablet):
    _setup_visit(live_server, ["patient_global"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001")
    response = page.goto(f"{live_server.url}/staff/")
    assert response.status == 403


def test_haq_no_aids_is_an_answer_that_excludes_the_others(live_server, tablet):
    # Issue 16: an untouched checkbox list is unanswered; "Inga hjälpmedel" is its own answer and
    # cannot stand beside a ticked aid (ticking one unticks the other, on the tablet).
    patient, visit = _setup_visit(live_server, ["haq"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001", lang="sv")
    page.get_by_role("link", name="Stanford Health Assessment Questionnaire (HAQ)").tap()
    page.wait_for_url("**/p/0")
    for _ in range(4):  # the four activity pages before the aids and help page
        page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/p/4")
    aids = page.locator("fieldset[data-item='aids1']")
    aids.get_by_label("Käpp").check()
    aids.get_by_label("Inga hjälpmedel").check()
    assert not aids.get_by_label("Käpp").is_checked()
    aids.get_by_label("Rollator eller gåbock").check()
    assert not aids.get_by_label("Inga hjälpmedel").is_checked()
    aids.get_by_label("Rollator eller gåbock").uncheck()
    aids.get_by_label("Inga hjälpmedel").check()
    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/p/5")
    [response] = live_server.store.list_responses(patient["id"])
    assert response["answers"]["aids1"] == ["none"]
    assert "help1" not in response["answers"]  # left untouched: unanswered, not "no help"
