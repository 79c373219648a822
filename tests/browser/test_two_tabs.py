"""Two tabs in one browser (one cookie jar): the stale tab of patient A, after the tablet went to patient B
(issue 15.12), and the page script's sends, of which no autosave may follow Next (15.11)."""
from __future__ import annotations

import pytest

from browser.conftest import NURSE, hand_over_visit, staff_login

pytestmark = pytest.mark.browser


def _visit(store, code: str):
    patient = store.create_patient(code, "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                            questionnaires=["patient_global"])
    return patient, visit


def _tap_line_at(page, fraction: float) -> None:
    box = page.locator("[data-vas='PtGA'] .vas-line").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)


def test_the_stale_tab_of_the_previous_patient_can_neither_show_nor_store_its_answer(live_server, tablet):
    store = live_server.store
    a_patient, _ = _visit(store, "PAT-A")
    b_patient, _ = _visit(store, "PAT-B")
    first = tablet
    staff_login(first, live_server.url)
    hand_over_visit(first, live_server.url, "PAT-A")
    first.goto(f"{live_server.url}/tablet/q/patient_global/p/0")

    # In a second tab the nurse unlocks the tablet and hands it to patient B, who opens the questionnaire.
    second = first.context.new_page()
    second.goto(f"{live_server.url}/tablet/locked")
    second.locator("summary").tap()
    second.fill("#username", NURSE[0])
    second.fill("#password", NURSE[1])
    second.get_by_role("button", name="Lås upp").tap()
    second.wait_for_url("**/staff/patients/*")
    second.goto(f"{live_server.url}/staff/")
    hand_over_visit(second, live_server.url, "PAT-B")
    second.goto(f"{live_server.url}/tablet/q/patient_global/p/0")

    # A's tab is still open: a mark at 87 mm and Next.
    _tap_line_at(first, 0.87)
    with first.expect_navigation():
        first.get_by_role("button", name="Nästa →").tap()
    assert "Inget från den sparades" in first.content()
    assert first.locator("[data-vas='PtGA']").count() == 0  # nothing of any patient's page is shown
    first.wait_for_timeout(600)  # an autosave the tap may have queued has had its chance

    assert store.list_responses(b_patient["id"])[0]["answers"] == {}
    assert store.list_responses(a_patient["id"])[0]["answers"] == {}  # nor into A's, after the hand-off
    second.reload()
    assert second.locator("[data-vas='PtGA'] .vas-mark").is_hidden()
    assert second.locator("input[name=a__PtGA]").input_value() == ""


def test_no_autosave_is_sent_after_next(live_server, tablet):
    patient, _ = _visit(live_server.store, "PAT-C")
    page = tablet
    staff_login(page, live_server.url)
    hand_over_visit(page, live_server.url, "PAT-C")
    page.goto(f"{live_server.url}/tablet/q/patient_global/p/0")
    sent: list[str] = []

    def record(request):
        if request.method == "POST" and "/tablet/q/" in request.url:
            body = request.post_data or ""
            sent.append("autosave" if "autosave" in body else "page")

    page.on("request", record)
    _tap_line_at(page, 0.4)
    page.wait_for_timeout(700)  # the change is autosaved
    _tap_line_at(page, 0.6)  # a second change, and Next before its autosave is due
    page.get_by_role("button", name="Nästa →").tap()
    page.wait_for_url("**/review")
    page.wait_for_timeout(700)
    assert sent[0] == "autosave" and "page" in sent, sent
    assert "autosave" not in sent[sent.index("page"):], sent
    (response,) = live_server.store.list_responses(patient["id"])
    assert response["answers"]["PtGA"] == pytest.approx(60.0, abs=0.6) and response["page"] == 1
