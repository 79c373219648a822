"""The preview app through HTTP: tablet pages, live panel, errors with their lines, CSRF, nothing stored."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import csrf_token
from pro_app.preview import create_preview_app

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = (ROOT / "tests" / "fixtures" / "all_types.yaml").read_text(encoding="utf-8")

# all_types.yaml with a page that skip logic hides, and conditions of every form.
CONDITIONS = FIXTURE.replace("""  - id: third
    items:""", """  - id: third
    title: {sv: Vardagen, en: Daily life}
    show_if: {any: [{item: pain, gte: 3}, {item: aids, in: [cane, walker]}]}
    items:""").replace("""      - id: onset
        type: date""", """      - id: onset
        type: date
        show_if: {all: [{item: mood, not_in: [2]}, {item: dress, answered: true}]}""")


@pytest.fixture
def preview(tmp_path, monkeypatch):
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "draft.yaml"
    path.write_text(CONDITIONS, encoding="utf-8")
    app = create_preview_app(path)
    app.config["TESTING"] = True
    return app.test_client(), path


def post_page(client, url: str, data: dict[str, str]):
    page = client.get(url)
    shown = re.search(r'name="shown" value="([^"]*)"', page.text).group(1)
    return client.post(url, data={"csrf_token": csrf_token(page.text), "shown": shown, **data})


def test_the_tablet_page_is_the_tablets_own_in_the_frames_language(preview):
    client, _path = preview
    sv = client.get("/tablet/sv/q/all_types/p/0")
    assert sv.status_code == 200 and '<html lang="sv">' in sv.text
    assert "Röker du?" in sv.text and 'action="/tablet/sv/q/all_types/p/0"' in sv.text and "tablet.js" in sv.text
    assert "Do you smoke?" in client.get("/tablet/en/q/all_types/p/0").text
    assert client.get("/tablet/de/q/all_types/p/0").status_code == 404
    shell = client.get("/?view=both&orient=landscape")
    assert 'src="/tablet/sv/q/all_types/p/0"' in shell.text and 'src="/tablet/en/q/all_types/p/0"' in shell.text
    assert 'width="1180" height="820"' in shell.text
    assert "frame-ancestors 'self'" in shell.headers["Content-Security-Policy"]
    assert shell.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_answers_update_scores_and_skip_logic_reasons(preview, tmp_path):
    client, _path = preview
    panel = client.get("/panel?lang=sv").text
    assert "Vardagen" in panel and "Sidan (Vardagen) visas bara när något av: ”Hur ont har du?” är minst 3 (nu: inte besvarad); " \
        "”Vilka hjälpmedel använder du?” är något av ”Käpp”, ”Rollator” (nu: inte besvarad)." in panel
    assert "Visas bara när ”Röker du?” är ”Ja” (nu: inte besvarad)." in panel

    response = post_page(client, "/tablet/sv/q/all_types/p/1", {"a__pain": "4", "action": "next"})
    assert response.status_code == 302 and response.location.endswith("/tablet/sv/q/all_types/p/2")
    response = post_page(client, "/tablet/sv/q/all_types/p/2", {"a__dress": "3", "a__stand": "0", "a__mood": "2",
                                                                "action": "autosave"})
    assert response.get_json() == {"saved": True, "errors": []}
    panel = client.get("/panel?lang=en").text
    # Function: mean of dress (3) and stand (0) = 1.5, range 0-3 (the fixture's declarative scale).
    assert re.search(r'class="scale-value">1\.5', panel) and "Range 0–3" in panel
    assert "Shown only when all of: “How do you feel?” is answered and is none of “Poorly” (now: “Poorly”); " \
        "“dress yourself?” is answered (now: “Unable to do”)." in panel
    assert client.get("/status").get_json()["changes"] >= 2
    assert not (tmp_path / "data").exists()


def test_posts_need_the_csrf_token(preview):
    client, _path = preview
    assert client.post("/tablet/sv/q/all_types/p/0", data={"a__smoker": "1", "action": "next"}).status_code == 400
    assert client.post("/reset").status_code == 400


def test_review_asks_for_required_answers_and_send_shows_the_thank_you_page(preview):
    client, _path = preview
    page = client.get("/tablet/sv/q/all_types/review")
    response = client.post("/tablet/sv/q/all_types/review", data={"csrf_token": csrf_token(page.text), "action": "submit"})
    assert response.status_code == 422 and "obligatorisk" in response.text
    post_page(client, "/tablet/sv/q/all_types/p/0", {"a__smoker": "0", "action": "next"})
    page = client.get("/tablet/sv/q/all_types/review")
    response = client.post("/tablet/sv/q/all_types/review", data={"csrf_token": csrf_token(page.text), "action": "submit"})
    assert response.status_code == 302 and response.location.endswith("/tablet/sv/")
    assert "Tack!" in client.get("/tablet/sv/").text


def test_an_invalid_file_shows_each_error_with_its_yaml_lines(preview):
    client, path = preview
    path.write_text(CONDITIONS.replace("type: nrs", "type: slider").replace("min: 0\n", "min: 0\n        colour: red\n", 1),
                    encoding="utf-8")
    html = client.get("/").text
    lines = path.read_text(encoding="utf-8").splitlines()
    slider = lines.index("        type: slider") + 1
    colour = lines.index("        colour: red") + 1
    assert f"{path}:{colour}: pages[0].items[1]: unknown key &#39;colour&#39;" in html
    assert f"{path}:{slider}: pages[1].items[0].type: unknown item type &#39;slider&#39;" in html
    assert re.search(rf'<span class="hit" data-line="{slider}"><span class="ln">{slider}</span>\s+type: slider', html)
    assert "Fel i filen: 2" in html and "iframe" not in html
    assert client.get("/tablet/sv/q/all_types/p/0").status_code == 503

    path.write_bytes(b"id: \xff\n")
    assert f"{path}:1: file: not UTF-8 text" in client.get("/").text
    path.unlink()
    assert f"{path}:1: file: cannot read" in client.get("/").text
