"""The staff pages a nurse meets on a clinic tablet, portrait (820x1180) and landscape (1180x820), touch, Swedish.

With the demo patient after two visits: the patient page shows the visit due today first and
prominent, with this tablet's calibration; the calibration page says whether the tablet is
calibrated and when, reads out its adjustment in mm with a decimal comma, and keeps its +/- buttons
on one row of 48 px targets; the scored summary on screen fits the screen without sideways scrolling.
"""
from __future__ import annotations

import datetime as dt

import pytest

from browser.conftest import staff_login
from helpers import LiveServer

pytestmark = pytest.mark.browser

SWEDISH_MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
                  "november", "december"]


@pytest.fixture
def demo_server(tmp_path, monkeypatch):
    from pro_app import create_app
    from pro_app.demo import seed_demo

    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    app = create_app({"SESSION_COOKIE_SECURE": False})
    seed_demo(app, history=2)
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("viewport", [(820, 1180), (1180, 820)], ids=["portrait", "landscape"])
def test_due_visit_calibration_and_summary_on_a_tablet(demo_server, browser, viewport):
    from pro_app.demo import DEMO_USERS

    width, height = viewport
    store = demo_server.store
    patient = store.find_patient("DEMO-001")
    visits = store.list_visits(patient["id"])
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=True,
                                  locale="sv-SE")
    page = context.new_page()
    base = demo_server.url
    try:
        staff_login(page, base, "nurse", DEMO_USERS["nurse"][0])
        # The visit due today (the third: two are done) comes first, prominent, with this tablet's calibration.
        page.goto(f"{base}/staff/patients/{patient['id']}")
        first = page.locator("article.visit").first
        assert first.get_attribute("data-visit") == visits[2]["key"]
        assert "visit-now" in first.get_attribute("class")
        assert first.locator("button[type=submit]").bounding_box()["y"] < page.locator(
            f"article[data-visit='{visits[0]['key']}']").bounding_box()["y"]
        assert "inte kalibrerad" in first.locator("[data-calibration-status]").inner_text()

        page.goto(f"{base}/staff/calibrate")
        status = page.locator("#calibration-status")
        assert "inte kalibrerad" in status.inner_text()
        assert page.locator("#calibration-value").inner_text() == "0,0"
        buttons = page.locator("[data-adjust]").all()
        boxes = [b.bounding_box() for b in buttons]
        assert len({round(b["y"]) for b in boxes}) == 1, "the +/- buttons wrap onto two rows"
        assert all(b["width"] >= 48 and b["height"] >= 48 for b in boxes)
        page.get_by_role("button", name="+ 1 mm").tap()
        page.get_by_role("button", name="− 0,1 mm").tap()
        assert page.locator("#calibration-value").inner_text() == "+0,9"  # mm, signed, with a decimal comma
        page.get_by_role("button", name="Spara för den här surfplattan").tap()
        today = dt.date.today()
        dated = f"kalibrerad {today.day} {SWEDISH_MONTHS[today.month - 1]} {today.year}"
        assert dated in status.inner_text()
        page.goto(f"{base}/staff/patients/{patient['id']}")
        assert dated in page.locator("article.visit").first.locator("[data-calibration-status]").inner_text()

        # The summary on screen: its tables fit the page (the tablet's 20 px type pushed them 100 px past it).
        for visit in visits[:2]:
            page.goto(f"{base}/staff/patients/{patient['id']}/visits/{visit['id']}/summary")
            assert page.locator("h1").inner_text() == "Poängsammanställning"
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            wide = page.evaluate("""[...document.querySelectorAll('table')]
                .filter(t => t.getBoundingClientRect().width > t.parentElement.clientWidth + 1).length""")
            assert wide == 0, f"{wide} tables wider than the page at {width} px"
    finally:
        context.close()
