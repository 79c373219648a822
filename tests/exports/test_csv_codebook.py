"""The wide CSV as statisticians load it: pandas with the codebook's types and labels, Stata's name rules,
ReadStat (pyreadstat) writing the data as Stata .dta and SPSS .sav with the codebook's value labels, and the
generated Stata and SPSS syntax checked line by line against their command grammar.

Expected labels are read from the questionnaire YAML files here, not from the code under test.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml
from click.testing import CliRunner

from pro_app import create_app
from pro_app.cli import main

ROOT = Path(__file__).resolve().parents[2]
STATA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
HAQ = {f"haq{k}{r}": v for k, rows, v in [(1, "ab", 1), (2, "ab", 2), (3, "abc", 0), (4, "ab", 1), (5, "abc", 1),
                                           (6, "ab", 0), (7, "abc", 2), (8, "abc", 1)] for r in rows}
EVENT = {"AE1_date": "2025-02-03", "AE1_description": "Huvudvärk", "AE1_severity": 3, "AE1_relation": 4,
         "AE1_serious": 0, "AE1_action": 1, "AE1_another": 0}


@pytest.fixture
def site(tmp_path, monkeypatch, database):
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(ROOT / "questionnaires"))
    monkeypatch.setenv("PRO_APP_STUDIES", str(tmp_path / "no-studies"))
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    cat = app.extensions["pro_app"]
    store = cat.store

    def answer(patient, visit, qid, answers, complete=True):
        response = store.start_response(patient["id"], visit["id"], cat.get(qid), "staff:test", "sv")
        store.save_answers(patient["id"], response["id"], "staff:test", answers, language="sv")
        if complete:
            store.complete_response(patient["id"], response["id"], "staff:test")

    forms = dict(questionnaires=["haq", "patient_global"], clinician_forms=["adverse_events", "enzymes"])
    one = store.create_patient("P-001", "test")
    v1 = store.add_visit(one["id"], "test", key="baseline", label={"sv": "B", "en": "B"}, due="2025-01-31", **forms)
    v2 = store.add_visit(one["id"], "test", key="m1", label={"sv": "M1", "en": "M1"}, due="2025-03-01", **forms)
    two = store.create_patient("P-002", "test")
    v3 = store.add_visit(two["id"], "test", key="baseline", label={"sv": "B", "en": "B"}, due="2025-02-15", **forms)
    # P-001 baseline: aids "none of these", help unanswered; AE "no" with event 1 left over from a "yes".
    answer(one, v1, "haq", {**HAQ, "aids1": ["none"], "haq_pain": 42.5})
    answer(one, v1, "patient_global", {"PtGA": 52.3})
    answer(one, v1, "adverse_events", {"AE_any": 0, **EVENT}, complete=False)
    answer(one, v1, "enzymes", {"CK": 1200, "CK_unit": "U_L", "CK_ULN": 200})
    # P-001 m1: aids "other" (its text shown), one adverse event; CK not measured (its unit not shown).
    answer(one, v2, "haq", {**HAQ, "haq1a": 3, "aids1": ["cane", "other"], "aids1_other": "Strumppådragare",
                            "help1": ["dressing"]})
    answer(one, v2, "adverse_events", {"AE_any": 1, **EVENT})
    answer(one, v2, "enzymes", {"aldolase": 9, "aldolase_unit": "U_L"})
    # P-002: aids unanswered and "other" text left from before it was unticked (hidden).
    answer(two, v3, "haq", {**HAQ, "aids1": ["cane"], "aids1_other": "glömd text"}, complete=False)
    answer(two, v3, "patient_global", {"PtGA": 0})
    return app, store, cat


def _export(fmt, tmp_path, lang="sv"):
    out = tmp_path / f"export-{fmt}.txt"
    result = CliRunner().invoke(main, ["export", "--format", fmt, "--out", str(out), "--lang", lang])
    assert result.exit_code == 0, result.output
    return out


def _load(csv_path: Path, codebook: pd.DataFrame, lang: str = "sv") -> pd.DataFrame:
    """The wide CSV as the docs tell an analyst to load it in pandas: types, missing codes and labels."""
    book = codebook.set_index("name")
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    frame = {}
    for name in raw.columns:
        entry, column = book.loc[name], raw[name]
        column = column.where(~column.isin(["", "-99"]))  # empty: not answered; -99: not shown
        kind = entry["type"]
        if kind in ("categorical", "categorical_text"):
            codes = entry["codes"].split("|")
            labels = entry[f"labels_{lang}"].split("|")
            categories = pd.CategoricalDtype(categories=[int(c) for c in codes] if kind == "categorical" else codes)
            values = pd.to_numeric(column) if kind == "categorical" else column
            frame[name] = pd.Series(pd.Categorical(values, dtype=categories), index=raw.index).cat.rename_categories(labels)
        elif kind == "integer":
            frame[name] = pd.to_numeric(column).astype("Int64")
        elif kind == "decimal":
            frame[name] = pd.to_numeric(column).astype("float64")
        elif kind == "date":
            frame[name] = pd.to_datetime(column, format="%Y-%m-%d")
        elif kind == "datetime":
            frame[name] = pd.to_datetime(column, format="ISO8601", utc=True)
        else:
            frame[name] = column
    return pd.DataFrame(frame)


def _yaml(qid):
    return yaml.safe_load((ROOT / "questionnaires" / f"{qid}.yaml").read_text(encoding="utf-8"))


def test_the_wide_csv_loads_in_pandas_with_the_codebooks_types_and_labels(site, tmp_path):
    app, store, cat = site
    codebook = pd.read_csv(_export("codebook", tmp_path), dtype=str, keep_default_na=False)
    wide_path = _export("csv", tmp_path)
    header = next(csv.reader(io.StringIO(wide_path.read_text(encoding="utf-8"))))
    # Names: Stata's rule (letters, digits, _, a letter first, at most 32), unique even ignoring case (SPSS).
    assert list(codebook["name"]) == header
    assert all(STATA_NAME.fullmatch(n) for n in header), [n for n in header if not STATA_NAME.fullmatch(n)]
    assert len({n.lower() for n in header}) == len(header)
    # The mapping is documented: each name's original path, and the long CSV's questionnaire + name.
    originals = dict(zip(codebook["original"], codebook["name"]))
    assert originals["haq.HAQ_DI"] == "haq_HAQ_DI" and originals["adverse_events.AE1_description"] == \
        "adverse_events_AE1_description"
    long = list(csv.DictReader(io.StringIO(_export("csv-long", tmp_path).read_text(encoding="utf-8"))))
    assert {f"{r['questionnaire']}.{r['name']}" for r in long if r["kind"] in ("item", "scale")} <= set(originals)
    assert all(len(o) <= 32 or len(n) == 32 for o, n in originals.items())

    df = _load(wide_path, codebook).set_index(["study_code", "visit"])
    haq_yaml = _yaml("haq")
    severity = {o["code"]: o["text"]["sv"] for o in haq_yaml["option_sets"][next(iter(haq_yaml["option_sets"]))]}
    # Types from the codebook.
    assert df["patient_global_PtGA"].dtype == "float64" and df["visit_due"].dtype.kind == "M"
    assert isinstance(df["haq_haq1a"].dtype, pd.CategoricalDtype)
    assert df.loc[("P-001", "m1"), "haq_haq1a"] == severity[3]  # the label of code 3, as the YAML gives it
    assert df.loc[("P-001", "baseline"), "haq_haq2a"] == severity[2]
    # Not answered, not shown and "none of these" are three different things.
    wide = pd.read_csv(wide_path, dtype=str, keep_default_na=False).set_index(["study_code", "visit"])
    aids = next(i for p in haq_yaml["pages"] for i in p["items"] if i["id"] == "aids1")
    assert wide.loc[("P-001", "baseline"), "haq_aids1"] == aids["none_option"]["code"]  # none of these
    row = codebook.set_index("name").loc["haq_aids1"]
    none_label = dict(zip(row["codes"].split("|"), row["labels_sv"].split("|")))["none"]
    assert none_label == aids["none_option"]["text"]["sv"]
    assert wide.loc[("P-001", "baseline"), "haq_help1"] == ""  # shown, not answered
    assert wide.loc[("P-001", "baseline"), "haq_aids1_other"] == "-99"  # not shown ("other" not ticked)
    assert wide.loc[("P-002", "baseline"), "haq_aids1_other"] == "-99"  # typed, then hidden: not exported
    assert wide.loc[("P-001", "m1"), "haq_aids1_other"] == "Strumppådragare"
    assert wide.loc[("P-001", "baseline"), "adverse_events_AE_any"] == "0"
    assert wide.loc[("P-001", "baseline"), "adverse_events_AE1_severity"] == "-99"
    assert wide.loc[("P-001", "m1"), "adverse_events_AE1_severity"] == "3"
    assert wide.loc[("P-001", "m1"), "adverse_events_AE2_severity"] == "-99"  # event 1 said "no other"
    assert wide.loc[("P-001", "m1"), "enzymes_CK_unit"] == "-99" and wide.loc[("P-001", "m1"), "enzymes_CK"] == ""
    assert wide.loc[("P-002", "baseline"), "adverse_events_AE_any"] == ""  # form not given: empty
    assert "glömd text" not in wide_path.read_text(encoding="utf-8")
    # The codebook: texts in both languages, units, ranges and the not-shown code where skip logic applies.
    book = codebook.set_index("name")
    ae = {i["id"]: i for p in _yaml("adverse_events")["pages"] for i in p["items"]}
    assert book.loc["adverse_events_AE1_description", "text_en"] == ae["AE1_description"]["text"]["en"]
    assert book.loc["adverse_events_AE1_description", "text_sv"] == ae["AE1_description"]["text"]["sv"]
    assert book.loc["adverse_events_AE1_severity", "missing"] == "-99"
    assert book.loc["patient_global_PtGA", ["unit", "min", "max"]].tolist() == ["mm", "0", "100"]
    assert book.loc["haq_haq1a", "missing"] == ""  # never hidden: only "not answered" is possible
    assert book.loc["haq_HAQ_DI", "kind"] == "score" and book.loc["haq_HAQ_DI", "max"] == "3"
    assert (book["version"][book["questionnaire"] == "haq"] == _yaml("haq")["version"]).all()


def test_scores_in_the_csv_agree_with_pro_app_score(site, tmp_path):
    app, store, cat = site
    wide = pd.read_csv(_export("csv", tmp_path), dtype=str, keep_default_na=False).set_index(["study_code", "visit"])
    codebook = pd.read_csv(_export("codebook", tmp_path), dtype=str, keep_default_na=False)
    name_of = dict(zip(codebook["original"], codebook["name"]))
    checked = 0
    for answered in store.answered():
        response = answered.response
        q = cat.for_response(response)
        answers_file = tmp_path / "answers.json"
        answers_file.write_text(json.dumps(response["answers"]), encoding="utf-8")
        result = CliRunner().invoke(main, ["score", q.id, str(answers_file)])
        assert result.exit_code == 0, result.output
        for scale in json.loads(result.output)["scales"]:
            column = name_of[f"{q.id}.{scale['id']}" if scale["id"] not in q.answer_ids()
                             else f"{q.id}.{scale['id']}_score"]
            cell = wide.loc[(answered.patient["study_code"], answered.visit["key"]), column]
            assert (cell == "" if scale["value"] is None else float(cell) == pytest.approx(scale["value"], rel=1e-12)), \
                (column, cell, scale["value"])
            checked += 1
    assert checked > 20


def test_readstat_writes_the_data_as_stata_and_spss_files_with_the_codebooks_labels(site, tmp_path):
    codebook = pd.read_csv(_export("codebook", tmp_path), dtype=str, keep_default_na=False)
    wide = pd.read_csv(_export("csv", tmp_path), dtype=str, keep_default_na=False)
    numeric = {r["name"] for _, r in codebook.iterrows() if r["type"] in ("categorical", "integer", "decimal")}
    frame = pd.DataFrame({n: pd.to_numeric(wide[n].replace("", None)) if n in numeric else wide[n] for n in wide})
    labels = {r["name"]: {**{int(c): t for c, t in zip(r["codes"].split("|"), r["labels_sv"].split("|"))},
                          -99: "Visades inte"}
              for _, r in codebook.iterrows() if r["type"] == "categorical"}
    missing = {r["name"]: [-99] for _, r in codebook.iterrows() if r["missing"] and r["name"] in numeric}
    sav, dta = tmp_path / "export.sav", tmp_path / "export.dta"
    pyreadstat.write_sav(frame, sav, variable_value_labels=labels, missing_ranges=missing,
                         column_labels=list(codebook["text_sv"]))
    back, meta = pyreadstat.read_sav(sav, apply_value_formats=True, user_missing=True)
    assert list(back.columns) == list(wide.columns)
    assert back.loc[0, "adverse_events_AE_any"] == "Nej" and back.loc[0, "adverse_events_AE1_severity"] == "Visades inte"
    assert meta.missing_ranges["adverse_events_AE1_severity"] == [{"lo": -99.0, "hi": -99.0}]
    # Stata's own name rules, as ReadStat enforces them writing a .dta (it refuses a name Stata would).
    pyreadstat.write_dta(frame, dta, column_labels=[t[:80] for t in codebook["text_sv"]])
    assert list(pyreadstat.read_dta(dta, metadataonly=True)[1].column_names) == list(wide.columns)


STATA_LINE = re.compile(
    r'\* .*|version 14|\}|if !_rc \{'
    r'|capture label variable (?P<v>[A-Za-z]\w{0,31}) `"[^\n]*"\''
    r'|capture confirm numeric variable (?P<c>[A-Za-z]\w{0,31})'
    r'|    mvdecode (?P<m>[A-Za-z]\w{0,31}), mv\(-99=\.a\)'
    r'|    label define (?P<d>[A-Za-z]\w{0,31})(?: (?:-?\d+|\.a) `"[^"\n]*"\')+, replace'
    r'|    label values (?P<lv>[A-Za-z]\w{0,31}) (?P<ln>[A-Za-z]\w{0,31})')
SPSS_COMMANDS = ("GET DATA", "VARIABLE LABELS", "VALUE LABELS", "MISSING VALUES", "EXECUTE")


def test_stata_and_spss_syntax_follow_their_grammar(site, tmp_path):
    codebook = pd.read_csv(_export("codebook", tmp_path), dtype=str, keep_default_na=False)
    names = set(codebook["name"])
    do = _export("stata-labels", tmp_path, "en").read_text(encoding="utf-8").splitlines()
    depth = 0
    for line in do:
        match = STATA_LINE.fullmatch(line)
        assert match, line
        depth += line.endswith("{") - (line == "}")
        assert depth in (0, 1)
        for group in ("v", "c", "m", "d", "lv"):
            assert match.group(group) in (None, *names), line
    assert depth == 0
    assert any(line.startswith("    label define adverse_events_AE_any 1 `\"Yes\"' 0 `\"No\"'") for line in do)
    sps = _export("spss-labels", tmp_path).read_text(encoding="utf-8")
    commands = [c.strip() for c in re.split(r"\.\n", sps) if c.strip()]
    for command in commands:
        body = "\n".join(line for line in command.splitlines() if not line.startswith("*"))
        if not body:  # a comment: '*' to the period that ends its line
            continue
        assert body.startswith(SPSS_COMMANDS), body[:60]
        assert body.count("'") % 2 == 0, body[:60]  # every string closed ('' inside a string is two quotes)
    variables = re.search(r"/VARIABLES=\n(.*?)\.\n", sps, re.S).group(1).split("\n")
    assert [v.split()[0] for v in variables] == list(codebook["name"])
    assert all(re.fullmatch(r"F\d+\.\d|SDATE10|A\d+", v.split()[1]) for v in variables)
    assert "adverse_events_AE1_severity 1 'Lindrig'" in sps and "MISSING VALUES adverse_events_AE1_severity (-99)." in sps


def test_administrators_download_the_codebook_and_value_labels(site):
    from helpers import login
    from pro_app.auth import hash_password
    from pro_app.export import export_text

    app, store, cat = site
    store.create_user("adam", hash_password("correct horse battery"), "admin", "test")
    admin = app.test_client()
    login(admin, "adam", "correct horse battery")
    page = admin.get("/staff/export").text
    assert 'data-export="codebook"' in page and "Kodbok (CSV): en rad per kolumn" in page
    for fmt, extension in (("codebook", "csv"), ("stata-labels", "do"), ("spss-labels", "sps")):
        response = admin.get(f"/staff/export/{fmt}")
        assert response.status_code == 200 and response.is_streamed
        assert response.headers["Content-Disposition"].endswith(f'.{extension}"')
        assert response.get_data(as_text=True) == export_text(cat, fmt)


def test_the_naming_rule_as_docs_exports_md_states_it():
    import hashlib

    from pro_app.codebook import variable_names

    long = "outcome.extramuscular_improvement_pct"
    names = variable_names([long, "in", "1st.visit", "enzymer.ålder-år", "haq.haq_pain", "haq.HAQ_pain", "haq.HAQ_DI"])
    assert names[long] == "outcome_extramuscular_impro_" + hashlib.sha1(long.encode()).hexdigest()[:4]
    assert (names["in"], names["1st.visit"], names["enzymer.ålder-år"]) == ("in_", "v1st_visit", "enzymer_alder_ar")
    pain = names["haq.haq_pain"], names["haq.HAQ_pain"]  # the same name but for case: SPSS would merge them
    assert pain[0].lower() != pain[1].lower() and all(p.lower().startswith("haq_haq_pain_") for p in pain)
    # A name depends on its own column only: another export with other columns names it the same.
    assert variable_names(["haq.HAQ_DI"])["haq.HAQ_DI"] == names["haq.HAQ_DI"] == "haq_HAQ_DI"
    assert all(STATA_NAME.fullmatch(n) for n in names.values())
