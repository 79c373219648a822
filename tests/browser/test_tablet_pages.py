"""Every page a patient sees, as they see it: an iPad in portrait (820x1180) and landscape (1180x820), touch, Swedish.

One browser context per viewport walks the home page, every page of every patient questionnaire and
each review page, and checks on each: the page needs at most about two screens of scrolling (portrait),
every control a finger touches is at least 48x48 CSS px, a grid row's options stand on one line, no internal id, code or English word reaches
the page, the page reflows at 320 CSS px without sideways scrolling (WCAG 1.4.10), and its title and
heading name the questionnaire and the step, unique per page. On each VAS: the anchors stand at the
line's ends and the mark's knob clear of them, the line is 100 mm, a tap more than a few mm beyond an end sets nothing, and in forced
colours (Windows high contrast) the line, its ends, the mark and the progress bar stay visible.
"""
from __future__ import annotations

import re

import pytest

from browser.conftest import hand_over_visit, staff_login

pytestmark = pytest.mark.browser

VIEWPORTS = {"portrait": (820, 1180), "landscape": (1180, 820)}
CSS_PX_PER_MM = 96 / 25.4

# Words that must never reach a Swedish patient page: internal keys, codes, English.
LEAKS = ["baseline", "physician_global", "patient_global", "(nurse)", "anakinra", "ukat_L", "U_L", "HAQ_DI", "xULN",
         "None", "True", "False", "NaN", "Next", "Back", "Step", "Questionnaire", "required", "Send", "Change",
         "questions", "Answer", "Start", "Continue", "Done", "Thank you", "of",
         "Health Assessment", "Activities Profile", "Health Survey", "Fatigue Severity", "Patient global", "px/mm"]

PAGE_FACTS = """() => {
  const seen = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const small = [...document.querySelectorAll(
      'a[href], button, summary, [role=slider], label.option, input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.tagName === 'INPUT' && el.closest('label.option')) && seen(el))
    .map(el => { const r = el.getBoundingClientRect(); return {what: el.outerHTML.slice(0, 90), w: r.width, h: r.height}; })
    .filter(t => t.w < 47.5 || t.h < 47.5);
  // A grid row's options stand side by side as one scale: never 3 on one line and 1 on the next.
  const wrapped = [...document.querySelectorAll('.options.scale')]
    .filter(group => new Set([...group.querySelectorAll('label.option')].map(o => Math.round(o.getBoundingClientRect().top))).size > 1)
    .map(group => group.closest('fieldset').id);
  return {height: document.documentElement.scrollHeight, title: document.title, wrapped,
          h1: [...document.querySelectorAll('h1')].map(h => h.innerText.trim()), text: document.body.innerText, small};
}"""

VAS_FACTS = """root => {
  const box = el => el.getBoundingClientRect();
  const q = s => root.querySelector(s);
  return {line: box(q('.vas-line')), low: box(q('.vas-end-min')), high: box(q('.vas-end-max')),
          anchorLow: box(q('.vas-anchor-min')), anchorHigh: box(q('.vas-anchor-max')), width: innerWidth};
}"""

KNOB_TOP = """root => {
  const mark = root.querySelector('.vas-mark');
  return mark.getBoundingClientRect().top + parseFloat(getComputedStyle(mark, '::after').top);
}"""

FORCED = """() => {
  const bg = s => { const el = document.querySelector(s); return el && getComputedStyle(el).backgroundColor; };
  return {card: bg('.card'), line: bg('.vas-line'), end: bg('.vas-end'), fill: bg('.progress-fill'),
          bar: getComputedStyle(document.querySelector('.progress-bar')).borderTopColor};
}"""


def leaks_in(text: str, words: list[str]) -> list[str]:
    return [w for w in words if re.search(r"(?<![\w_])" + re.escape(w) + r"(?![\w_])", text)]


def check_vas(page, problems: list[str], where: str) -> None:
    for root in page.locator(".vas").all():
        item = root.get_attribute("data-vas")
        value = root.locator(".vas-value")
        facts = root.evaluate(VAS_FACTS)
        line, low, high = facts["line"], facts["low"], facts["high"]
        name = f"{where} VAS {item}"
        if abs(line["width"] - 100 * CSS_PX_PER_MM) > 1:
            problems.append(f"{name}: the line is {line['width']:.1f} px, not 100 mm")
        # Each anchor stands at its end: the first starts at the left end tick, the second ends at the right one.
        if abs(facts["anchorLow"]["left"] - low["left"]) > 3:
            problems.append(f"{name}: left anchor at x {facts['anchorLow']['left']:.0f}, its end tick at {low['left']:.0f}")
        if abs(facts["anchorHigh"]["right"] - high["right"]) > 3:
            problems.append(f"{name}: right anchor ends at x {facts['anchorHigh']['right']:.0f}, its end tick at {high['right']:.0f}")
        if facts["anchorLow"]["right"] > facts["anchorHigh"]["left"]:
            problems.append(f"{name}: the anchors overlap")
        if facts["anchorLow"]["left"] < 0 or facts["anchorHigh"]["right"] > facts["width"]:
            problems.append(f"{name}: an anchor is off the screen")
        # A tap 8 mm beyond either end sets nothing; one 2 mm beyond the right end sets 100 mm.
        root.locator(".vas-track").scroll_into_view_if_needed()
        facts = root.evaluate(VAS_FACTS)
        line, high, low = facts["line"], facts["high"], facts["low"]
        y = line["top"] + line["height"] / 2
        for x in (high["right"] + 8 * CSS_PX_PER_MM, low["left"] - 8 * CSS_PX_PER_MM):
            page.touchscreen.tap(x, y)
            if value.input_value() != "":
                problems.append(f"{name}: a tap 8 mm beyond an end set {value.input_value()} mm")
        page.touchscreen.tap(line["right"] + 2 * CSS_PX_PER_MM, y)
        if value.input_value() != "100.0":
            problems.append(f"{name}: a tap 2 mm past the right end set {value.input_value()!r}, not 100 mm")
        # The mark at the end stands under its anchor, its knob clear of the anchor's text.
        knob = root.evaluate(KNOB_TOP)
        if knob < facts["anchorHigh"]["bottom"]:
            problems.append(f"{name}: the mark's knob (top {knob:.0f}) covers the anchor (bottom {facts['anchorHigh']['bottom']:.0f})")
        root.locator(".vas-clear").tap()

        page.emulate_media(forced_colors="active")
        colours = page.evaluate(FORCED)
        page.emulate_media(forced_colors="none")
        for part in ("line", "end", "fill"):
            if colours[part] in (colours["card"], None, "rgba(0, 0, 0, 0)"):
                problems.append(f"{name}: in forced colours the {part} is painted {colours[part]}, like the page")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_patient_page_fits_a_tablet(live_server, browser, viewport):
    width, height = VIEWPORTS[viewport]
    store = live_server.store
    cat = live_server.app.extensions["pro_app"]
    questionnaires = [q for q in cat.questionnaires.values() if q.audience == "patient"]
    store.add_visit(store.create_patient("PAGES-1", "test")["id"], "test", key="baseline",
                    label={"sv": "Baslinje", "en": "Baseline"}, questionnaires=[q.id for q in questionnaires])
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                  has_touch=True, is_mobile=True, locale="sv-SE")
    page = context.new_page()
    base = live_server.url
    problems: list[str] = []
    titles: dict[str, str] = {}
    headings: dict[str, str] = {}

    def check(where: str, words: list[str]) -> None:
        facts = page.evaluate(PAGE_FACTS)
        # Two screens in portrait; in landscape, where grid rows stand beside their questions, two and a half.
        if facts["height"] > (2 if viewport == "portrait" else 2.5) * height:
            problems.append(f"{where}: {facts['height']} px tall, more than {'two' if viewport == 'portrait' else '2.5'} screens")
        for row in facts["wrapped"]:
            problems.append(f"{where}: the options of {row} wrap onto a second line")
        for t in facts["small"]:
            problems.append(f"{where}: a {t['w']:.0f}x{t['h']:.0f} px target: {t['what']}")
        for word in leaks_in(facts["text"] + "\n" + facts["title"], words):
            problems.append(f"{where}: '{word}' on a Swedish page")
        for name, seen in (("title", titles), ("h1", headings)):
            value = facts["title"] if name == "title" else " | ".join(facts["h1"])
            if value in seen:
                problems.append(f"{where}: the same {name} as {seen[value]}: {value!r}")
            seen[value] = where
        if len(facts["h1"]) != 1:
            problems.append(f"{where}: {len(facts['h1'])} h1 headings")
        page.set_viewport_size({"width": 320, "height": height})
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > 321:
            problems.append(f"{where}: {wide} px wide at 320 CSS px (sideways scrolling)")
        page.set_viewport_size({"width": width, "height": height})

    try:
        staff_login(page, base)
        hand_over_visit(page, base, "PAGES-1")
        check("home", LEAKS)
        for q in questionnaires:
            words = LEAKS + [q.id] + q.answer_ids() + [str(o.code) for aid in q.answer_ids()
                                                      for o in (q.options_for(aid) or []) if isinstance(o.code, str)]
            for n in range(len(q.pages)):
                page.goto(f"{base}/tablet/q/{q.id}/p/{n}")
                if "/review" in page.url:
                    break  # later pages are hidden by skip logic until answered
                where = f"{q.id} page {n + 1}"
                name = q.heading_for_patient("sv")
                heading = page.locator("h1").inner_text()
                if not (heading.startswith(name) and re.search(rf"\({n + 1} av \d+\)", heading)):
                    problems.append(f"{where}: the heading {heading!r} does not name {name!r} and the step")
                if q.short_title and heading.split(" (")[0] == q.short_title.get("sv"):
                    problems.append(f"{where}: the heading is a bare code: {heading!r}")
                check_vas(page, problems, where)  # first: check() narrows the page to 320 px and back
                check(where, words)
            page.goto(f"{base}/tablet/q/{q.id}/review")
            if q.heading_for_patient("sv") not in page.locator("h1").inner_text():
                problems.append(f"{q.id} review: the heading does not name the questionnaire")
            check(f"{q.id} review", words)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_vas_anchors_stand_at_the_ends_on_every_tablet_width(live_server, browser):
    # From a small tablet in portrait (768) to a large one in landscape (1366): a 100 mm line, both anchors over
    # their ends and on the screen, the mark's knob clear of them.
    store = live_server.store
    store.add_visit(store.create_patient("VAS-1", "test")["id"], "test", key="baseline",
                    label={"sv": "Baslinje", "en": "Baseline"}, questionnaires=["patient_global"])
    context = browser.new_context(viewport={"width": 768, "height": 1024}, device_scale_factor=1, has_touch=True,
                                  is_mobile=True, locale="sv-SE")
    page = context.new_page()
    problems: list[str] = []
    try:
        staff_login(page, live_server.url)
        hand_over_visit(page, live_server.url, "VAS-1")
        for width, height in ((768, 1024), (1024, 768), (1366, 1024), (1024, 1366)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{live_server.url}/tablet/q/patient_global/p/0")
            check_vas(page, problems, f"{width}x{height}")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
