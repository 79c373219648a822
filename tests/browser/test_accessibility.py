"""axe-core in chromium on every page a patient sees, in both languages: no serious or critical violations.

Pages: the tablet home, every page of every patient questionnaire (SF-36 grids, the VAS,
HAQ...), each review page, a page showing an answer error, the done page and the locked page.
"""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from browser.conftest import hand_over_visit, staff_login

pytestmark = pytest.mark.browser
SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    found = []
    for v in results.response["violations"]:
        if v["impact"] in SERIOUS:
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
        found = serious_violations(tablet)
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
