"""Translators work in spreadsheets: `pro-app texts export` to CSV and `texts import` back into the YAML."""
from __future__ import annotations

import csv
import difflib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pro_app.cli import main
from pro_app.definitions import load_file

ROOT = Path(__file__).resolve().parent.parent

DRAFT = """\
# yaml-language-server: $schema=questionnaire.schema.json
# Hand strength: a made-up instrument for these tests.
id: hands
version: "1.0"
title: {sv: Handstyrka, en: Hand strength}
instructions:
  sv: >-
    Svara på varje fråga om hur det har varit den senaste veckan.
  en: >-
    Answer each question about the past week.
source: Test fixture
license: {sv: fri, en: free}
audience: patient
option_sets:
  effort:  # shared by the grid
    - {code: 0, text: {sv: Lätt, en: Easy}}
    - {code: 1, text: {sv: Svårt}}   # English still to come
pages:
  - id: grip
    title: {sv: Greppet, en: Grip}
    items:
      - id: jar
        type: single
        text: {sv: "Kan du öppna en burk?", en: "Can you open a jar?"}
        help: {sv: Med locket på, en: With the lid on}
        options:
          - {code: 1, text: {sv: Ja, en: "Yes"}}
          - {code: 0, text: {sv: Nej, en: "No"}}
      - id: pain
        type: nrs
        text: {sv: "Hur ont gör det?", en: "How much does it hurt?"}
        anchors:
          min: {sv: Inte alls, en: Not at all}
          max: {sv: Värsta tänkbara, en: Worst imaginable}
      - id: tasks
        type: grid
        text: {sv: Hur svårt är det att, en: How hard is it to}
        options: effort
        rows:
          - {id: t1, text: {sv: "knäppa knappar?", en: "do up buttons?"}}
          - {id: t2, text: {sv: "skriva för hand?", en: "write by hand?"}}
scoring:
  scorer: declarative
  scales:
    - id: tasks
      label: {sv: Uppgifter, en: Tasks}
      method: sum
      items: [t1, t2]
      higher_is_better: false
"""


def export(yaml_file: Path, out: Path) -> list[dict[str, str]]:
    result = CliRunner().invoke(main, ["texts", "export", str(yaml_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def save(rows: list[dict[str, str]], out: Path, delimiter: str = ",", encoding: str = "utf-8-sig") -> None:
    with open(out, "w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "sv", "en"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


def run_import(csv_file: Path, yaml_file: Path, *extra: str):
    return CliRunner().invoke(main, ["texts", "import", str(csv_file), str(yaml_file), *extra])


def by_path(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["path"]: row for row in rows}


@pytest.fixture
def draft(tmp_path) -> Path:
    path = tmp_path / "hands.yaml"
    path.write_text(DRAFT, encoding="utf-8")
    return path


def test_export_has_one_row_per_text_a_person_sees_named_by_ids(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    assert list(rows[0]) == ["path", "sv", "en"]
    assert [r["path"] for r in rows] == [
        "title", "instructions", "license",
        "option_sets.effort[0].text", "option_sets.effort[1].text",
        "pages[grip].title",
        "pages[grip].items[jar].text", "pages[grip].items[jar].help",
        "pages[grip].items[jar].options[1].text", "pages[grip].items[jar].options[0].text",
        "pages[grip].items[pain].text",
        "pages[grip].items[pain].anchors.min", "pages[grip].items[pain].anchors.max",
        "pages[grip].items[tasks].text",
        "pages[grip].items[tasks].rows[t1].text", "pages[grip].items[tasks].rows[t2].text",
        "scoring.scales[tasks].label",
    ]
    texts = by_path(rows)
    assert texts["instructions"] == {"path": "instructions", "sv": "Svara på varje fråga om hur det har varit den senaste veckan.",
                                     "en": "Answer each question about the past week."}
    assert texts["option_sets.effort[1].text"]["en"] == ""  # still to translate


def test_every_shipped_questionnaire_exports_every_text_it_shows(tmp_path):
    for path in sorted((ROOT / "questionnaires").glob("*.yaml")):
        q = load_file(path)
        exported = {text for row in export(path, tmp_path / f"{q.id}.csv") for text in (row["sv"], row["en"])}
        for item in q.items():
            for aid in item.answer_ids():
                assert q.answer_text(aid, "sv") in exported and q.answer_text(aid, "en") in exported, (q.id, aid)
            for option in q.options_for(item.answer_ids()[0]) or []:
                if item.type != "yesno":
                    assert option.text.sv in exported and option.text.en in exported, (q.id, item.id, option.code)
        assert q.title.sv in exported and q.title.en in exported


def test_round_trip_changes_one_swedish_text_and_keeps_comments_order_and_layout(tmp_path):
    yaml_file = tmp_path / "fss.yaml"
    shutil.copy(ROOT / "questionnaires" / "fss.yaml", yaml_file)
    before = yaml_file.read_text(encoding="utf-8")
    rows = export(yaml_file, tmp_path / "texts.csv")
    row = by_path(rows)["pages[fatigue].items[fss].rows[fss4].text"]
    row["sv"] = "4. Jag blir lätt trött – även av lite."
    save(rows, tmp_path / "texts.csv")

    result = run_import(tmp_path / "texts.csv", yaml_file)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"{yaml_file}: changed 1 text(s)"
    after = yaml_file.read_text(encoding="utf-8")
    changed = [(line[0], line[2:]) for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changed == [("-", '              sv: "4. Tröttheten påverkar min fysiska förmåga."'),
                       ("+", '              sv: "4. Jag blir lätt trött – även av lite."')]
    assert "# Scored by the YAML alone (scorer: declarative)" in after  # (the diff above shows nothing else moved)
    q = load_file(yaml_file)  # still a valid definition, with the new text
    assert q.answer_text("fss4", "sv") == "4. Jag blir lätt trött – även av lite."


def test_a_changed_paragraph_is_folded_again_and_a_missing_translation_is_added(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    texts = by_path(rows)
    long_text = ("Svara på varje fråga om hur det har varit för dig den senaste veckan. Tänk på en vanlig dag, "
                 "och välj det svar som passar bäst; det finns inga rätta eller felaktiga svar.")
    texts["instructions"]["sv"] = long_text
    texts["option_sets.effort[1].text"]["en"] = "Hard: really"
    save(rows, tmp_path / "texts.csv", delimiter=";")  # as Swedish Excel saves it

    result = run_import(tmp_path / "texts.csv", draft)
    assert result.exit_code == 0, result.output
    after = draft.read_text(encoding="utf-8")
    assert "  sv: >-\n    Svara på varje fråga om hur det har varit för dig den senaste veckan." in after
    assert all(len(line) <= 92 for line in after.splitlines() if "Svara" in line or "välj det svar" in line)
    assert "    - {code: 1, text: {sv: Svårt, en: 'Hard: really'}} # English still to come" in after
    assert "  effort:  # shared by the grid" in after
    q = load_file(draft)
    assert q.instructions.sv == long_text and q.option_sets["effort"][1].text.en == "Hard: really"


def test_a_row_whose_path_no_longer_exists_is_refused_with_its_row_number(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    rows[1]["sv"] = "Ny instruktion."
    rows[6]["path"] = "pages[grip].items[bottle].text"  # the item was renamed after the export
    save(rows, tmp_path / "texts.csv")
    before = draft.read_bytes()
    result = run_import(tmp_path / "texts.csv", draft)
    assert result.exit_code == 1
    assert (f"{tmp_path / 'texts.csv'}: row 8: pages[grip].items[bottle].text: no such text in {draft} any more "
            "(renamed or removed?)") in result.stderr
    assert draft.read_bytes() == before  # nothing written, not even the good row


def test_an_emptied_cell_and_a_repeated_row_are_refused(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    rows[0]["en"] = ""
    save(rows + [dict(rows[3])], tmp_path / "texts.csv")
    result = run_import(tmp_path / "texts.csv", draft)
    assert result.exit_code == 1
    assert "row 2: title: the English cell is empty; a text is not removed by an import" in result.stderr
    assert "row 19: option_sets.effort[0].text: the same path is also on row 5" in result.stderr


def test_a_result_that_is_not_a_valid_questionnaire_is_not_written(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    rows[0]["sv"] = "Handstyrka i vardagen"
    save(rows, tmp_path / "texts.csv")  # effort[1] still has no English text
    before = draft.read_bytes()
    result = run_import(tmp_path / "texts.csv", draft)
    assert result.exit_code == 1
    assert "the questionnaire would not be valid with these texts" in result.stderr
    assert f"{draft}:17: option_sets.effort[1].text: English text ('en') is missing" in result.stderr
    assert draft.read_bytes() == before


def test_an_unchanged_spreadsheet_leaves_the_file_alone_and_dry_run_writes_nothing(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    rows[4]["en"] = "Hard"
    save(rows, tmp_path / "texts.csv")
    before = draft.read_bytes()
    result = run_import(tmp_path / "texts.csv", draft, "--dry-run")
    assert result.exit_code == 0 and "would change 1 text(s)" in result.output and draft.read_bytes() == before
    export(draft, tmp_path / "again.csv")
    result = run_import(tmp_path / "again.csv", draft)
    assert result.exit_code == 0 and "changed 0 text(s)" in result.output and draft.read_bytes() == before


def test_a_spreadsheet_saved_in_another_encoding_or_without_the_columns_is_refused(draft, tmp_path):
    rows = export(draft, tmp_path / "texts.csv")
    save(rows, tmp_path / "latin1.csv", encoding="latin-1")
    assert "not UTF-8 text: save the spreadsheet as 'CSV UTF-8'" in run_import(tmp_path / "latin1.csv", draft).stderr
    (tmp_path / "bad.csv").write_text("path,svenska\nx,y\n", encoding="utf-8")
    result = run_import(tmp_path / "bad.csv", draft)
    assert result.exit_code == 1 and "row 1: the header needs the columns path, sv, en; missing: sv, en" in result.stderr
