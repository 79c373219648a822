"""The admin page lists each questionnaire's versions, hashes and how many responses each has."""
from __future__ import annotations

import re
from pathlib import Path

from helpers import login
from pro_app.auth import hash_password
from pro_app.definitions import load_text

ROOT = Path(__file__).resolve().parent.parent


def older_patient_global(version: str, wording: str):
    text = (ROOT / "questionnaires" / "patient_global.yaml").read_text(encoding="utf-8")
    text = re.sub(r'^version: .*$', f'version: "{version}"', text, count=1, flags=re.M)
    title = re.search(r"^title:\n  sv: (.*)$", text, flags=re.M).group(1)
    return load_text(text.replace(f"  sv: {title}", f"  sv: {wording}", 1), "old.yaml")


def answer(store, patient_code: str, questionnaire, complete: bool) -> None:
    patient = store.create_patient(patient_code, "test")
    visit = store.add_visit(patient["id"], "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[questionnaire.id])
    response = store.start_response(patient["id"], visit["id"], questionnaire, "test", "sv")
    if complete:
        store.complete_response(patient["id"], response["id"], "test")


def rows(html: str, qid: str) -> list[list[str]]:
    article = html.split(f'data-questionnaire="{qid}"', 1)[1].split("</article>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", tr, flags=re.S)]
            for tr in re.findall(r"<tr data-version.*?</tr>", article, flags=re.S)]


def test_admin_sees_every_version_with_its_hash_and_responses(app, store, client):
    current = app.extensions["pro_app"].get("patient_global")
    earlier = older_patient_global("0.9", "Tidigare lydelse")
    answer(store, "A-1", current, complete=True)
    answer(store, "A-2", current, complete=False)
    answer(store, "A-3", earlier, complete=True)
    store.create_user("root", hash_password("admin password 1"), "admin", "test")
    login(client, "root", "admin password 1")

    html = client.get("/staff/admin/questionnaires").text
    assert rows(html, "patient_global") == [
        [current.version, current.definition_hash[:19], "2", "1", "Aktiv"],
        ["0.9", earlier.definition_hash[:19], "1", "1", "Tidigare version"],
    ]
    assert rows(html, "haq")[0][2:] == ["0", "0", "Aktiv"]  # loaded, never answered
    assert "samma versionsnummer" not in html
    assert 'href="/staff/admin/questionnaires"' in client.get("/staff/").text


def test_two_definitions_under_one_version_are_flagged(app, store, client):
    current = app.extensions["pro_app"].get("patient_global")
    answer(store, "B-1", older_patient_global(current.version, "Ändrad i efterhand"), complete=True)
    store.create_user("root", hash_password("admin password 1"), "admin", "test")
    login(client, "root", "admin password 1")
    html = client.get("/staff/admin/questionnaires").text
    assert [row[0] for row in rows(html, "patient_global")] == [current.version, current.version]
    assert html.count('class="warning"') == 2 and "samma versionsnummer" in html


def test_only_administrators_see_the_versions(nurse_client):
    assert nurse_client.get("/staff/admin/questionnaires").status_code == 403
    assert "/staff/admin/questionnaires" not in nurse_client.get("/staff/").text
