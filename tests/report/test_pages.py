"""The study overview page and the report files, over HTTP and from the command line."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape
from html.parser import HTMLParser

import pytest
import yaml
from click.testing import CliRunner
from pypdf import PdfReader

from pro_app.cli import main
from pro_app.report import build_report
from pro_app.study_pages import render_report

from .conftest import HERE, ROOT, VISITS, client_for, code

# Internal ids, keys and codes that must never reach a reader.
INTERNAL = re.compile(r"\b(physician_global|patient_global|HAQ_DI|MMT8_total|extramuscular_global|FI2_\w+|ukat_L|U_L|"
                      r"xULN|\w+_xULN|enzyme_\w+|aldolase|not_yet_due|mfi2|myoact|adverse_events|baseline|m12|m6|m3|m1)\b")


class _Page(HTMLParser):
    """The text a reader sees (no tags, attributes, scripts or styles), the ids and the links of a page."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []  # (href, enclosing table class, link text)
        self._skip = 0
        self._tables: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("style", "script"):
            self._skip += 1
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "table":
            self._tables.append(attrs.get("class") or "")
        if tag == "a" and "href" in attrs:
            self._href, self._link_text = attrs["href"], []

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        if tag == "table" and self._tables:
            self._tables.pop()
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._tables[-1] if self._tables else "", "".join(self._link_text).strip()))
            self._href = None

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
            if self._href is not None:
                self._link_text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def physician(trial):
    return client_for(trial.app, "petra")


def _in(client, lang: str):
    with client.session_transaction() as session:
        session["lang"] = lang
    return client


def test_only_administrators_and_physicians_see_the_study(trial):
    nurse = client_for(trial.app, "nina")
    assert nurse.get("/staff/studies/trial").status_code == 403
    assert nurse.get("/staff/studies/trial/report.csv").status_code == 403
    assert "/staff/studies/" not in nurse.get("/staff/").text  # no menu entry either
    assert trial.app.test_client().get("/staff/studies/trial").status_code == 302  # to the login
    admin = client_for(trial.app, "adam")
    assert admin.get("/staff/studies/").status_code == 200
    assert admin.get("/staff/studies/trial").status_code == 200
    assert admin.get("/staff/studies/nonexistent").status_code == 404


def test_the_swedish_overview_shows_swedish_numbers_and_no_internal_codes(trial, physician):
    html = _in(physician, "sv").get("/staff/studies/trial").text
    page = parse(html)
    text = " ".join(page.text)
    for expected in ("Studierapport", "Läget i studien", "Kohorttabell", "IMACS kärnmått", "Tolerabilitet",
                     "Försenat", "Missat", "Aktuellt nu", "Ej aktuellt än", "Läkarens helhetsbedömning", "Baslinje",
                     "12 månader", "Ledde till utsättning av studieläkemedlet", "Lindrig", "Troligt", "U/L"):
        assert expected in text, expected
    # Swedish decimals: a comma, never a point, in the cohort table's medians.
    cohort = [t for href, table, t in page.links if table == "report-table cohort"]
    odd = [t for t in cohort if not re.fullmatch(r"[+−]?\d[\d\s]*,\d+ \(.+\)", t)]
    assert cohort and not odd, [ascii(t) for t in odd[:5]]
    assert not re.search(r"\d\.\d", " ".join(cohort))
    assert not INTERNAL.findall(text), sorted(set(INTERNAL.findall(text)))
    # CSP: no inline styles or scripts on a staff page.
    assert not re.search(r"\sstyle=", html) and "<style" not in html and "<script>" not in html


def _words(html: str) -> str:
    """The text of an HTML fragment with its whitespace squashed, as a reader sees it."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.mark.parametrize(("lang", "marked"), [("sv", "Preliminärt:"), ("en", "Provisional:")])
def test_provisional_instruments_are_marked_with_the_reason_in_both_languages(trial, physician, lang, marked):
    reason = " ".join(yaml.safe_load((ROOT / "questionnaires" / "mfi2.yaml").read_text())["provisional"][lang].split())
    html = _in(physician, lang).get("/staff/studies/trial").text
    cohort = html[html.index('class="report-table cohort"'):]
    cohort = cohort[:cohort.index("</table>")]
    fi2 = cohort[cohort.index('<tbody class="group primary">'):]
    assert f"{marked} {reason}" in _words(fi2[:fi2.index("</tbody>")])  # the reason, once, with the group
    rows = re.findall(r'<tr class="level" data-measure="([^"]+)">(.*?)</tr>', cohort, re.S)
    assert len(rows) > 15
    for key, row in rows:  # every FI-2 row tagged, and nothing else
        assert ("data-provisional" in row) == key.startswith("mfi2."), key
    figures = dict(re.findall(r'<figure class="spaghetti" data-measure="([^"]+)">(.*?)</figure>', html, re.S))
    assert f"{marked} {reason}" in _words(figures["mfi2.FI2_total"])
    assert not any("data-provisional" in f for key, f in figures.items() if key != "mfi2.FI2_total")


def test_every_number_links_to_the_values_it_came_from(trial, physician):
    html = _in(physician, "en").get("/staff/studies/trial").text
    page = parse(html)
    inside = [(href, table) for href, table, _t in page.links if href.startswith("#")]
    assert inside and all(href[1:] in page.ids for href, _ in inside), [h for h, _ in inside if h[1:] not in page.ids]
    cohort = [(href, t) for href, table, t in page.links if table == "report-table cohort"]
    # One link per cell with values: 7 core/primary rows at 5 visits and 4 changes, at least.
    assert len(cohort) >= 9 * 7
    # The PhGA median at 1 month links to the listing's 1-month column; that listing links each value to its visit.
    phga_row = re.search(r'data-measure="physician_global.PhGA">(.*?)</tr>', html, re.S).group(1)
    anchor = re.findall(r'href="#([^"]+)"', phga_row)[1]
    assert f'id="{anchor}"' in html
    listing = html[html.index(f'id="{anchor.rsplit("-", 1)[0]}"'):]
    listing = listing[:listing.index("</table>")]
    p01 = trial.patients["P01"]["id"]
    m1 = trial.visits[("P01", "m1")]["id"]
    assert f'href="/staff/patients/{p01}/visits/{m1}/summary"' in listing
    # Responders and adverse events link to their listings too.
    assert {"#r1", "#r4", "#ae-listing"} <= {href for href, _t, _x in page.links}
    # Links carry only the pseudonymous ids the staff pages use: no study codes or values in a URL.
    assert not any("P0" in href or "P1" in href for href, _t, _x in page.links)


def test_an_administrator_sees_the_numbers_without_links_to_summaries_they_may_not_open(trial):
    admin = client_for(trial.app, "adam")
    html = admin.get("/staff/studies/trial").text
    p01 = trial.patients["P01"]["id"]
    m1 = trial.visits[("P01", "m1")]["id"]
    assert "/summary" not in html and trial.patients["P01"]["study_code"] in html
    assert admin.get(f"/staff/patients/{p01}/visits/{m1}/summary").status_code == 403


def test_the_report_file_is_self_contained_and_reproducible(trial):
    cat, study = trial.app.extensions["pro_app"], trial.app.extensions["pro_app.studies"]["trial"]
    with trial.app.test_request_context():
        first = render_report(build_report(cat, study, "sv", trial.today,
                                           generated=dt.datetime(2025, 1, 1, 8, tzinfo=dt.timezone.utc)), "html")
        second = render_report(build_report(cat, study, "sv", trial.today,
                                            generated=dt.datetime(2025, 6, 1, 9, tzinfo=dt.timezone.utc)), "html")
    assert first != second
    stamp = re.compile(rb'<span class="generated">[^<]*</span>')
    assert stamp.sub(b"", first) == stamp.sub(b"", second)  # byte for byte, apart from the timestamp
    html = first.decode()
    assert "<style>" in html and "<link" not in html and "src=" not in html  # nothing to fetch
    assert "Testprövning" in html and "Datauttag" in html


def test_the_analysis_dataset_has_one_row_per_patient_visit_with_exact_values(trial, physician):
    response = _in(physician, "en").get("/staff/studies/trial/report.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))
    assert len(rows) == 15 * 5
    by_key = {(r["study_code"], r["visit"]): r for r in rows}
    for (patient, visit), values in trial.values.items():
        row = by_key[(patient, visit)]
        # The unrounded float of the exact score, in its shortest form: equal, not approximately equal.
        assert float(row["physician_global.PhGA"]) == float(values["PhGA"])
        assert (float(row["haq.HAQ_DI"]) if row["haq.HAQ_DI"] else None) == (values["HAQ"] and float(values["HAQ"]))
        assert float(row["enzymes.CK_U_L"]) == float(values["CK"])  # µkat/L converted exactly
        assert float(row["mfi2.FI2_total"]) == float(values["FI2"])
        assert row["state"] == "done"
    assert by_key[("P12", "m12")]["haq.HAQ_DI"] == ""  # missing is empty, never 0
    assert by_key[("P11", "m6")]["state"] == "missed" and by_key[("P11", "m6")]["physician_global.PhGA"] == ""
    assert by_key[("P12", "m12")]["imacs_improvement_met"] == ""
    assert by_key[("P12", "m12")]["criteria_measures_missing"] == "HAQ"
    assert {r["enzyme_followed"] for r in rows} == {"CK"}  # the only enzyme measured in this trial
    assert trial.app.extensions["pro_app"].store.audit_entries()[-1]["entity"] == "study-report"


def test_the_pdf_renders_in_swedish_with_every_section(trial, physician):
    response = _in(physician, "sv").get("/staff/studies/trial/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Studierapport", "Läget i studien", "Kohorttabell", "Responders", "Tolerabilitet", "Diagram",
                     "Datauttag och metoder", "Hyndman", f"Sida 1 av {len(reader.pages)}", "P13", "Preliminärt:",
                     "Muskelenzymet som var mest avvikande vid baslinjen", "Enzym som följs (antal patienter)"):
        assert expected in " ".join(text.split()), expected  # a label may wrap in a narrow column
    assert "Listningar" not in text  # the listings are for the screen, where links work
    assert re.search(r"\d+,\d\s+\(\d+,\d–\d+,\d\)", text)  # a median (IQR) with decimal commas


def test_the_command_writes_html_pdf_and_csv(trial, tmp_path, monkeypatch):
    monkeypatch.setenv("PRO_APP_DATA_DIR", trial.app.config["DATA_DIR"])
    if trial.app.config["DATABASE_URL"]:
        monkeypatch.setenv("PRO_APP_DATABASE_URL", trial.app.config["DATABASE_URL"])
    monkeypatch.setenv("PRO_APP_STUDIES", str(HERE / "studies"))
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(ROOT / "questionnaires"))
    runner = CliRunner()
    for name in ("report.html", "report.pdf", "analysis.csv"):
        out = tmp_path / name
        result = runner.invoke(main, ["report", "trial", "--out", str(out), "--lang", "en",
                                      "--as-of", trial.today.isoformat(), "--link-base", "https://pro-app.example"])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    html = (tmp_path / "report.html").read_text()
    assert "Study report" in html and "https://pro-app.example/staff/patients/" in html
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert len((tmp_path / "analysis.csv").read_text().splitlines()) == 1 + 15 * len(VISITS)
    bad = runner.invoke(main, ["report", "nope", "--out", str(tmp_path / "x.html")])
    assert bad.exit_code != 0 and "unknown study 'nope'" in bad.output
    bad = runner.invoke(main, ["report", "trial", "--out", str(tmp_path / "x.docx")])
    assert bad.exit_code != 0 and ".html, .pdf or .csv" in bad.output
    assert code(1) in html
