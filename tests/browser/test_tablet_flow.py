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


def _on_the_tablet(server, page, questionnaires):
    """A visit with these questionnaires, handed over to this tablet by a nurse (in Swedish)."""
    patient, visit = _setup_visit(server, questionnaires)
    staff_login(page, server.url)
    hand_over_visit(page, server.url, "DEMO-001")
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
    page.get_by_role("link", name="Din helhetsbedömning").tap()
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
    page.locator("[data-unanswered-ids~='PtGA'] a").tap()
    page.wait_for_url("**/p/0")

    width = _tap_line_at(page, "PtGA", 0.3)
    assert page.locator("[data-vas='PtGA'] .vas-mark").is_visible()
    # The position in words, never as a number (30 mm: about a third of the way).
    assert page.locator("[data-vas='PtGA'] .vas-track").get_attribute("aria-valuetext") == (
        "Markerad ungefär en tredjedel av vägen från Ingen aktivitet till Extremt aktiv")
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
    patient, visit = _on_the_tablet(live_server, tablet, ["patient_global"])
    page = tablet
    page.goto(f"{live_server.url}/tablet/q/patient_global")
    track = page.locator("[data-vas='PtGA'] .vas-track")
    track.focus()
    page.keyboard.press("ArrowRight")  # the first key press starts at the end it moves away from
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == "0.0"
    assert track.get_attribute("aria-valuetext") == "Markerad längst ut, vid Ingen aktivitet"
    for _ in range(5):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == "49.0"
    assert track.get_attribute("aria-valuetext") == "Markerad mitt emellan Ingen aktivitet och Extremt aktiv"
    page.get_by_role("button", name="Ta bort min markering").tap()
    track.focus()
    page.keyboard.press("ArrowLeft")  # leftwards from the right end
    assert page.locator("[data-vas='PtGA'] .vas-value").input_value() == "100.0"
    page.keyboard.press("ArrowLeft")
    assert track.get_attribute("aria-valuetext") == "Markerad alldeles intill Extremt aktiv"
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
    patient, visit = _on_the_tablet(live_server, tablet, ["all_types", "patient_global"])
    page = tablet
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
    page.get_by_role("link", name="Your overall assessment").tap()
    page.wait_for_url("**/p/0")
    assert page.get_by_text("Considering all your symptoms").is_visible()
    page.get_by_role("button", name="Svenska").tap()
    page.wait_for_load_state()
    page.get_by_text("Hur aktiv har din muskelsjukdom").wait_for()
    assert page.get_by_text("Hur aktiv har din muskelsjukdom").is_visible()


def test_tablet_cannot_open_staff_pages(live_server, tablet):
    _on_the_tablet(live_server, tablet, ["patient_global"])
    page = tablet
    response = page.goto(f"{live_server.url}/staff/")
    assert response.status == 403


def test_haq_no_aids_is_an_answer_that_excludes_the_others(live_server, tablet):
    # Issue 16: an untouched checkbox list is unanswered; "Inga hjälpmedel" is its own answer and
    # cannot stand beside a ticked aid (ticking one unticks the other, on the tablet).
    patient, visit = _setup_visit(live_server, ["haq"])
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "DEMO-001", lang="sv")
    page.get_by_role("link", name="Frågor om förmåga i vardagen (HAQ)").tap()
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


def test_idle_warning_a_minute_before_the_lock_and_i_am_still_here(live_server, tablet):
    # WCAG 2.2.1: the tablet warns, in the patient's language, before it locks; one large button keeps it open.
    # A 9 s idle time: the page locks itself after 4.5 s and warns 2.25 s before that (a minute, at 10 minutes).
    live_server.app.config["TABLET_IDLE_MINUTES"] = 0.15
    patient, _visit = _on_the_tablet(live_server, tablet, ["patient_global"])
    page = tablet
    page.goto(f"{live_server.url}/tablet/q/patient_global/p/0")
    _tap_line_at(page, "PtGA", 0.4)
    warning = page.locator("#idle-warning")
    warning.wait_for(state="visible", timeout=6000)
    assert warning.get_by_role("heading").inner_text() == "Är du kvar?"
    assert "låses surfplattan om" in warning.inner_text()
    stay = warning.get_by_role("button", name="Jag är kvar")
    box = stay.bounding_box()
    assert box["height"] >= 90 and box["width"] >= 200
    stay.tap()
    assert warning.is_hidden()
    page.wait_for_timeout(3000)  # past the moment the page would have locked without the button
    assert page.url.endswith("/tablet/q/patient_global/p/0")
    # Left alone again: the warning comes back, then the page saves itself and locks.
    warning.wait_for(state="visible", timeout=6000)
    page.wait_for_url("**/tablet/locked", timeout=8000)
    [response] = live_server.store.list_responses(patient["id"])
    assert response["answers"]["PtGA"] == pytest.approx(40.0, abs=0.6)
    assert any(e["action"] == "lock" and e.get("details", {}).get("reason") == "idle" for e in live_server.store.audit_entries())


def test_the_tablet_locks_by_itself_after_thank_you(live_server, tablet):
    live_server.app.config["TABLET_DONE_LOCK_SECONDS"] = 1
    patient, visit = _on_the_tablet(live_server, tablet, ["patient_global"])
    page = tablet
    q = live_server.app.extensions["pro_app"].get("patient_global")
    response = live_server.store.start_response(patient["id"], visit["id"], q, "test", "sv")
    live_server.store.complete_response(patient["id"], response["id"], "test")
    page.goto(f"{live_server.url}/tablet/")
    assert page.get_by_role("heading", name="Tack!").is_visible()
    page.wait_for_url("**/tablet/locked", timeout=5000)  # nobody pressed the button
    assert page.locator("svg.lock-icon").is_visible()  # drawn, not an emoji that may be an empty box
    assert any(e["action"] == "lock" and e.get("details", {}).get("reason") == "done" for e in live_server.store.audit_entries())


def test_focus_goes_to_the_error_and_to_the_follow_up_question(live_server, tablet):
    _on_the_tablet(live_server, tablet, ["all_types"])
    page = tablet
    page.goto(f"{live_server.url}/tablet/q/all_types/p/0")
    page.locator("#item-smoker label.option", has_text="Ja").tap()
    with page.expect_navigation():
        page.get_by_role("button", name="Nästa →").tap()
    assert page.get_by_text("En följdfråga har kommit fram nedan.").is_visible()
    assert page.evaluate("document.activeElement.name") == "a__cigarettes"
    page.fill("#a__cigarettes", "tolv")  # not a number
    with page.expect_navigation():
        page.get_by_role("button", name="Nästa →").tap()
    focused = page.evaluate("""() => { const e = document.activeElement;
        return {name: e.name, invalid: e.getAttribute('aria-invalid'), described: e.getAttribute('aria-describedby')}; }""")
    assert focused == {"name": "a__cigarettes", "invalid": "true", "described": "err-cigarettes"}
    assert page.locator("#err-cigarettes").inner_text()  # the message the field points at


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_focus_ring_stands_out_from_the_page(live_server, tablet):
    # WCAG 1.4.11: at least 3:1 against the white card and the grey page (#f5a623 was 2.0:1).
    _on_the_tablet(live_server, tablet, ["patient_global"])
    page = tablet
    page.goto(f"{live_server.url}/tablet/q/patient_global/p/0")
    page.keyboard.press("Tab")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    for background in ("rgb(255, 255, 255)", "rgb(243, 244, 246)"):
        lighter, darker = sorted((_luminance(ring), _luminance(background)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 3, (ring, background)
