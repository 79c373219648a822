"""Browser fixtures: the app on a real loopback server, Debian's chromium driven by Playwright.

No browser is downloaded: Playwright launches /usr/bin/chromium (installed by
scripts/test and .ci/run). A missing browser fails these tests; it never skips them.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import LiveServer
from pro_app import create_app
from pro_app.auth import hash_password

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PRO_APP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
# A 10-inch clinic tablet in landscape, driven by touch.
TABLET = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 2, "has_touch": True, "is_mobile": True}
NURSE = ("anna", "correct horse battery")


@pytest.fixture
def questionnaire_dir(tmp_path):
    """The shipped questionnaires plus the test fixture with every item type."""
    folder = tmp_path / "questionnaires"
    shutil.copytree(ROOT / "questionnaires", folder)
    shutil.copy(ROOT / "tests" / "fixtures" / "all_types.yaml", folder)
    return folder


@pytest.fixture
def live_server(tmp_path, monkeypatch, questionnaire_dir, database):
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(questionnaire_dir))
    app = create_app({"SESSION_COOKIE_SECURE": False})
    app.extensions["pro_app"].store.create_user(NURSE[0], hash_password(NURSE[1]), "nurse", "test")
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}: install Debian's chromium (scripts/test does) — browser tests never skip")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tablet(browser):
    context = browser.new_context(**TABLET, locale="sv-SE")
    page = context.new_page()
    yield page
    context.close()


def staff_login(page, base_url: str, username: str = NURSE[0], password: str = NURSE[1]) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("button[type=submit].primary").tap()
    page.wait_for_url(f"{base_url}/staff/")


def hand_over_visit(page, base_url: str, study_code: str, visit_key: str = "baseline", lang: str = "sv") -> None:
    """A nurse opens the patient and hands this tablet over for the visit."""
    page.get_by_role("link", name=study_code).tap()
    visit = page.locator(f"article[data-visit='{visit_key}']")
    visit.locator(f"input[name=language][value={lang}]").check()
    visit.locator("button[type=submit]").tap()
    page.wait_for_url(f"{base_url}/tablet/")
