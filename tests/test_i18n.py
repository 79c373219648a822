"""Both languages: every UI string has a Swedish translation, and every questionnaire renders in sv and en."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from helpers import csrf_token, hand_over
from pro_app.definitions import load_directory

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "sv" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def ui_strings() -> set[str]:
    method_map = [("pro_app/**.py", "python"), ("pro_app/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _singular(message_id):
    """A message's id; a plural message (ngettext) goes by its singular."""
    return message_id if isinstance(message_id, str) else message_id[0]


def _hashable(value):
    """A plural message's ids and strings come as lists (from a .mo) or tuples (from a .po): compare them as tuples."""
    return value if isinstance(value, str) else tuple(value)


def _translated(message) -> bool:
    """Translated, every plural form included, and not fuzzy."""
    forms = [message.string] if isinstance(message.string, str) else list(message.string)
    return bool(message.id) and all(forms) and "fuzzy" not in message.flags


def test_every_ui_string_has_a_swedish_translation():
    with open(PO, "rb") as fh:
        catalog = read_po(fh, locale="sv")
    translated = {_singular(m.id): m.string for m in catalog if _translated(m)}
    missing = sorted(s for s in ui_strings() if s not in translated)
    assert not missing, f"untranslated in {PO.relative_to(ROOT)} (run `pro-app translate update`): {missing}"


def test_compiled_catalog_matches_the_po_file():
    with open(PO, "rb") as fh:
        po = {_hashable(m.id): _hashable(m.string) for m in read_po(fh, locale="sv") if _translated(m)}
    with open(MO, "rb") as fh:
        mo = {_hashable(m.id): _hashable(m.string) for m in read_mo(fh) if m.id}
    assert po == mo, "translations/sv/LC_MESSAGES/messages.mo is stale: run `pro-app translate compile`"


def test_staff_pages_render_in_both_languages(nurse_client):
    sv = nurse_client.get("/staff/").text
    assert "Registrera en patient" in sv and 'lang="sv"' in sv
    token = csrf_token(sv)
    nurse_client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/staff/"})
    en = nurse_client.get("/staff/").text
    assert "Register a patient" in en and 'lang="en"' in en


QUESTIONNAIRES = load_directory(ROOT / "questionnaires")


@pytest.mark.parametrize("qid", sorted(q.id for q in QUESTIONNAIRES.values() if q.audience == "patient"))
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_patient_questionnaire_renders_every_page(app, store, nurse_client, qid, lang):
    q = QUESTIONNAIRES[qid]
    patient = store.create_patient("R-1", "test")
    visit = store.add_visit(patient["id"], "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[qid])
    hand_over(nurse_client, patient["id"], visit["id"], lang)
    nurse_client.get(f"/tablet/q/{qid}")
    for n, page in enumerate(q.pages):
        if page.show_if is not None:
            continue
        html = nurse_client.get(f"/tablet/q/{qid}/p/{n}").text
        for item in q.visible_items(page, {}):
            assert item.text.get(lang) in html.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"').replace("&quot;", '"'), (qid, item.id)
    review = nurse_client.get(f"/tablet/q/{qid}/review")
    assert review.status_code == 200


def test_a_count_takes_the_swedish_singular_and_plural(app):
    from flask_babel import force_locale, ngettext

    with app.test_request_context(), force_locale("sv"):
        assert ngettext("%(num)s patient", "%(num)s patients", 1) == "1 patient"
        assert ngettext("%(num)s patient", "%(num)s patients", 2) == "2 patienter"
