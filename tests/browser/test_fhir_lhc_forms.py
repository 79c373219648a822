"""The exported Questionnaires in LHC-Forms (the NLM's renderer for FHIR SDC questionnaires, npm
``lforms``, installed by scripts/setup --test into tests/node) in Debian's chromium.

Every shipped questionnaire renders with its options and skip logic; the HAQ filled in there comes
back as a QuestionnaireResponse that validates and scores, in pro-app, to the HAQ-DI the published
rule gives; the VAS is a bounded number (150 mm is refused). One page of the suite's one browser
serves every test here. A missing browser or lforms fails these tests; they never skip. (Beside the
other browser tests for their shared chromium; the FHIR checks are tests/exports/fhir_checks.py.)
"""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pro_app.definitions import load_directory
from pro_app.fhir import answers_from_response, canonical, fhir_questionnaire
from pro_app.scoring import score

from exports.fhir_checks import ROOT, check_resource

pytestmark = pytest.mark.browser

LFORMS = ROOT / "tests" / "node" / "node_modules" / "lforms"
# The web component as LHC-Forms' documentation loads it: zone.js, the component, the R4 converter.
PAGE = b"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><link href="/webcomponent/styles.css" rel="stylesheet"></head>
<body><div id="form"></div>
<script src="/webcomponent/assets/lib/zone.min.js"></script>
<script src="/webcomponent/lhc-forms.js"></script>
<script src="/fhir/R4/lformsFHIR.min.js"></script>
</body></html>"""
SHIPPED = load_directory(ROOT / "questionnaires")


class _Files(SimpleHTTPRequestHandler):
    """lforms' built files, and the page that loads them at /."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def lforms_page(browser):
    """One page of the suite's shared chromium (tests/browser/conftest.py) with LHC-Forms loaded."""
    if not (LFORMS / "dist" / "lforms" / "webcomponent" / "lhc-forms.js").exists():
        pytest.fail(f"lforms is not installed in {LFORMS}: run scripts/setup --test — never skipped")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(LFORMS / "dist" / "lforms")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport={"width": 1180, "height": 820})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        page.wait_for_function("!!(window.LForms && LForms.Util && LForms.Util.addFormToPage && LForms.FHIR)")
        assert page.evaluate("LForms.lformsVersion").startswith("40."), "the tests are written for LHC-Forms 40"
        page.errors = errors  # type: ignore[attr-defined]
        yield page
    finally:
        context.close()
        server.shutdown()


def _show(page, resource: dict) -> None:
    page.errors.clear()
    page.evaluate("q => LForms.Util.addFormToPage(q, 'form', {})", resource)
    page.wait_for_selector("#form lhc-item", timeout=20000)
    assert page.errors == [], page.errors


def _walk(items, hidden=False):
    for item in items:
        yield item, hidden or "enableWhen" in item
        yield from _walk(item.get("item", []), hidden or "enableWhen" in item)


def _shown(page) -> dict:
    """What LHC-Forms drew: question texts, and (linkId, code) of every radio button and check box."""
    return page.evaluate("""() => ({
        texts: [...document.querySelectorAll('#form .question')].map(e => e.textContent.trim()),
        options: [...document.querySelectorAll('#form label[id*="|"]')].map(e => {
            const parts = e.id.split('|');
            return [parts[0].split('/')[0], parts[parts.length - 1]];
        }),
    })""")


@pytest.mark.parametrize("qid", sorted(SHIPPED))
def test_each_questionnaire_renders_with_its_texts_and_options(lforms_page, qid):
    resource = fhir_questionnaire(SHIPPED[qid], "sv")
    _show(lforms_page, resource)
    shown = _shown(lforms_page)
    options = {tuple(o) for o in shown["options"]}
    for item, hidden in _walk(resource["item"]):
        if hidden or item.get("extension") and any(
                e.get("valueCodeableConcept", {}).get("coding", [{}])[0].get("code") in ("lower", "upper", "help")
                for e in item["extension"]):
            continue  # behind skip logic, or shown as a button / placeholder
        assert item["text"] in shown["texts"], (qid, item["linkId"])
        for option in item.get("answerOption", []):
            assert (item["linkId"], option["valueCoding"]["code"]) in options, (qid, item["linkId"], option)


def test_skip_logic_shows_an_event_only_after_yes(lforms_page):
    resource = fhir_questionnaire(SHIPPED["adverse_events"], "en")
    _show(lforms_page, resource)
    event_page = next(p for p in resource["item"] if p["linkId"] == "page-event1")
    assert event_page["text"] not in _shown(lforms_page)["texts"]
    lforms_page.click('label[id^="AE_any/"][id$="|1"]')
    lforms_page.wait_for_function("t => [...document.querySelectorAll('#form .question')].some(e => e.textContent.trim() === t)",
                                  arg=event_page["text"])
    lforms_page.click('label[id^="AE_any/"][id$="|0"]')
    lforms_page.wait_for_function("t => ![...document.querySelectorAll('#form .question')].some(e => e.textContent.trim() === t)",
                                  arg=event_page["text"])


def test_the_haq_filled_in_lhc_forms_scores_as_on_the_tablet(lforms_page):
    q = SHIPPED["haq"]
    resource = fhir_questionnaire(q, "sv")
    _show(lforms_page, resource)
    # The answers a patient gives on the tablet (as pro-app stores them). HAQ-DI by the published rule
    # (Bruce & Fries 2003; ARAMIS instructions 2009): the highest answer per category (1, 2, 0, 1,
    # 3, 0, 1, 2), aids for walking (a cane: category 4 at least 2), sum 11 / 8 = 1.375.
    tablet = {"haq1a": 1, "haq1b": 0, "haq2a": 2, "haq2b": 1, "haq3a": 0, "haq3b": 0, "haq3c": 0, "haq4a": 1,
              "haq4b": 0, "haq5a": 3, "haq5b": 0, "haq5c": 0, "haq6a": 0, "haq6b": 0, "haq7a": 1, "haq7b": 0,
              "haq7c": 0, "haq8a": 2, "haq8b": 0, "haq8c": 0, "aids1": ["cane"], "help1": ["none"],
              "aids2": ["none"], "help2": ["none"], "haq_pain": 35.0}
    for link_id, value in tablet.items():
        if isinstance(value, list):
            for code in value:
                lforms_page.click(f'label[id^="{link_id}/"][id$="|{code}"]')
        elif link_id != "haq_pain":
            lforms_page.click(f'label[id^="{link_id}/"][id$="|{value}"]')
    pain = lforms_page.locator('input[id^="haq_pain/"]')
    # No slider in LHC-Forms 40 (sdc-support.md): a number box with the anchors as its hint and the unit.
    assert pain.get_attribute("placeholder") == "0 = Ingen smärta … 100 = Svår smärta"
    # The VAS is bounded: 150 mm is refused with a message, 35 accepted.
    pain.fill("150")
    pain.press("Tab")
    errors = lforms_page.evaluate("LForms.Util.checkValidity()")
    assert errors and any("100" in e for e in errors), errors
    pain.fill("35")
    pain.press("Tab")
    assert lforms_page.evaluate("LForms.Util.checkValidity()") is None
    response = lforms_page.evaluate("LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4')")
    check_resource({**response, "id": "from-lhc-forms"})
    assert response["questionnaire"] == canonical(q)
    answers = answers_from_response(q, response)
    assert answers == tablet
    lhc, expected = ({s.id: s for s in score(q, a)} for a in (answers, tablet))
    assert lhc["HAQ_DI"].exact == expected["HAQ_DI"].exact == pytest.approx(1.375)
    assert float(lhc["HAQ_DI"].exact) == 1.375


def test_nested_skip_logic_and_not_in_behave_in_lhc_forms_as_in_pro_app(lforms_page):
    """A nested any/all travels as SDC enableWhenExpression (FHIRPath); not_in as exists + !=. In each
    state LHC-Forms shows exactly the questions pro-app's own skip logic shows."""
    from pro_app.definitions import load_file

    q = load_file(ROOT / "tests" / "exports" / "fixtures" / "nested_skip_logic.yaml")
    resource = fhir_questionnaire(q, "en")
    _show(lforms_page, resource)
    answers: dict = {}

    def shown(link_id: str) -> bool:
        return lforms_page.locator(f'[id^="item-{link_id}/"]').count() > 0

    def agree() -> None:
        for item_id in ("severe_or_organ", "not_muscle"):
            expected = q.item(item_id).show_if.holds(answers)
            lforms_page.wait_for_function(
                "([id, want]) => (document.querySelectorAll(`[id^='item-${id}/']`).length > 0) === want",
                arg=[item_id, expected], timeout=5000)
            assert shown(item_id) is expected, (item_id, answers)

    agree()  # nothing answered: both hidden
    for step in ({"kind": "muscle"}, {"kind": "skin"}, {"flare": 1}, {"days": 6}, {"kind": "muscle"},
                 {"days": 2}, {"kind": "lung"}):
        (item_id, value), = step.items()
        if item_id == "days":
            field = lforms_page.locator('input[id^="days/"]')
            field.fill(str(value))
            field.press("Tab")
        else:
            lforms_page.click(f'label[id^="{item_id}/"][id$="|{value}"]')
        answers[item_id] = value
        agree()
