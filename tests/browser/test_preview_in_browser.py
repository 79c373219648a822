"""`pro-app preview` as an author uses it: the real command, chromium, and a YAML file edited on disk."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# A made-up instrument: two rows scored as a sum, and a follow-up that skip logic hides.
DRAFT = """\
# yaml-language-server: $schema=questionnaire.schema.json
id: grip_check
version: "0.1"
title: {sv: Greppkontroll, en: Grip check}
source: Made up for this test
license: {sv: fri, en: free}
audience: patient
option_sets:
  effort:
    - {code: 0, text: {sv: Utan svårighet, en: No difficulty}}
    - {code: 1, text: {sv: Med viss svårighet, en: Some difficulty}}
    - {code: 2, text: {sv: Med stor svårighet, en: Much difficulty}}
pages:
  - id: hands
    items:
      - id: tasks
        type: grid
        text: {sv: Kan du, en: Can you}
        options: effort
        rows:
          - {id: jar, text: {sv: "öppna en burk?", en: "open a jar?"}}
          - {id: key, text: {sv: "vrida om en nyckel?", en: "turn a key?"}}
      - id: aids
        type: yesno
        text: {sv: "Använder du hjälpmedel?", en: "Do you use aids?"}
      - id: which_aids
        type: text
        text: {sv: "Vilka hjälpmedel?", en: "Which aids?"}
        show_if: {item: aids, equals: 1}
scoring:
  scorer: declarative
  scales:
    - id: grip
      label: {sv: Greppsvårighet, en: Grip difficulty}
      method: sum
      items: [jar, key]
      higher_is_better: false
"""


class Preview:
    """`pro-app preview FILE --port 0` in its own process; the URL it prints."""

    def __init__(self, yaml_file, env):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pro_app", "preview", str(yaml_file), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        match = re.search(r"http://127\.0\.0\.1:\d+/", first_line[0] if first_line else "")
        if not match:
            self.stop()
            pytest.fail(f"pro-app preview did not start: {first_line}")
        self.url = match.group(0)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def author(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="sv-SE")
    page = context.new_page()
    yield page
    context.close()


def test_preview_fills_in_scores_live_and_follows_the_file_on_disk(tmp_path, author):
    yaml_file = tmp_path / "grip_check.yaml"
    yaml_file.write_text(DRAFT, encoding="utf-8")
    data = tmp_path / "data"
    env = {**os.environ, "PRO_APP_DATA_DIR": str(data), "PRO_APP_DEFAULT_LANGUAGE": "sv"}
    preview = Preview(yaml_file, env)
    try:
        page = author
        page.goto(preview.url)
        tablet = page.frame_locator("iframe.tablet-frame")
        expect(tablet.locator("#item-jar legend")).to_have_text("öppna en burk?")
        # The follow-up is hidden, and the panel says why, in the author's language.
        hidden = page.locator("#hidden [data-hidden='which_aids']")
        expect(hidden).to_contain_text("Vilka hjälpmedel?")
        expect(hidden).to_contain_text("Visas bara när ”Använder du hjälpmedel?” är ”Ja” (nu: inte besvarad).")
        expect(page.locator("#scores .scale-value")).to_have_text("–")
        expect(page.locator("#scores .scale-reason")).to_have_text("0 av 2 frågor besvarade; minst 2 behövs.")

        # Filling in: "Med stor svårighet" (code 2) + "Med viss svårighet" (code 1) is a sum of 3 (range 0-4).
        tablet.locator("#item-jar label.option", has_text="Med stor svårighet").click()
        expect(page.locator("#scores .scale-reason")).to_have_text("1 av 2 frågor besvarade; minst 2 behövs.")
        tablet.locator("#item-key label.option", has_text="Med viss svårighet").click()
        expect(page.locator("#scores .scale-value")).to_have_text("3,0")
        expect(page.locator("#scores .scale-facts")).to_contain_text("Skala 0–4")
        tablet.locator("#item-aids label.option", has_text="Ja").click()
        expect(page.locator("#hidden")).to_contain_text("Ingen fråga är dold just nu.")

        # A wording change on disk: the page reloads by itself with the new text, answers kept.
        yaml_file.write_text(DRAFT.replace('"öppna en burk?"', '"skruva upp ett lock på en burk?"'), encoding="utf-8")
        expect(tablet.locator("#item-jar legend")).to_have_text("skruva upp ett lock på en burk?", timeout=15000)
        expect(page.locator("#scores .scale-value")).to_have_text("3,0")
        expect(tablet.locator("#item-key input[value='1']")).to_be_checked()

        # A YAML error: the preview shows it as file:line: where: what, with the offending line.
        broken = DRAFT.replace("        options: effort\n", "        options: effort\n       rows: nope\n")
        yaml_file.write_text(broken, encoding="utf-8")
        error_line = broken.splitlines().index("       rows: nope") + 1
        errors = page.locator(".preview-errors")
        expect(errors).to_be_visible(timeout=15000)
        expect(errors.locator(".error-text").first).to_contain_text(f"{yaml_file}:{error_line}: YAML: ")
        expect(errors.locator(f".yaml-lines .hit[data-line='{error_line}']")).to_contain_text("rows: nope")
        expect(page.locator("#file-status")).to_have_text("Fel i filen: 1")

        # Fixed again: back to the tablet, on the same page.
        yaml_file.write_text(DRAFT, encoding="utf-8")
        expect(tablet.locator("#item-jar legend")).to_have_text("öppna en burk?", timeout=15000)
    finally:
        preview.stop()
    assert not data.exists(), "the preview must not write to any data folder"


def test_preview_shows_both_languages_side_by_side_on_the_same_page(tmp_path, author):
    yaml_file = tmp_path / "grip_check.yaml"
    yaml_file.write_text(DRAFT, encoding="utf-8")
    preview = Preview(yaml_file, {**os.environ, "PRO_APP_DATA_DIR": str(tmp_path / "data")})
    try:
        page = author
        page.goto(preview.url + "?view=both")
        sv, en = page.frame_locator("iframe[data-lang=sv]"), page.frame_locator("iframe[data-lang=en]")
        expect(sv.locator("#item-jar legend")).to_have_text("öppna en burk?")
        expect(en.locator("#item-jar legend")).to_have_text("open a jar?")
        sv.locator("#item-aids label.option", has_text="Nej").click()
        sv.locator("button.next").click()
        # The Swedish frame moved on to the review step; the English one follows.
        expect(sv.locator("h1")).to_have_text("Kontrollera dina svar: Greppkontroll (2 av 2)")
        expect(en.locator("h1")).to_have_text("Check your answers: Grip check (2 of 2)")
        # Start over: no answers, and both frames back on the first page.
        page.get_by_role("button", name="Börja om").click()
        expect(sv.locator("#item-jar legend")).to_have_text("öppna en burk?")
        expect(en.locator("#item-aids input[value='0']")).not_to_be_checked()
        expect(page.locator("#scores")).to_contain_text("0 av 3 visade frågor är besvarade.")
    finally:
        preview.stop()
