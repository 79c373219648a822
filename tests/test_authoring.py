"""docs/adding-a-questionnaire.md, run: its commands in its order on its example, and its sample output checked."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pro_app.cli import main
from pro_app.definitions import load_file

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "adding-a-questionnaire.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "docs" / "examples" / "hand_function.yaml"
STUDY = """\
id: hands_study
title: {sv: Handstudien, en: The hand study}
visits:
  - key: baseline
    label: {sv: Baslinje, en: Baseline}
    offset: {days: 0}
    questionnaires: [patient_global, hand_function]
  - key: m3
    label: {sv: 3 månader, en: 3 months}
    offset: {months: 3}
    window_days: 14
    questionnaires: [patient_global, hand_function]
"""


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the guide's paths are relative: drafts/, questionnaires/
    for name in ("PRO_APP_DATA_DIR", "PRO_APP_QUESTIONNAIRES", "PRO_APP_STUDIES"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str, env: dict[str, str] | None = None, code: int = 0):
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == code, result.output
        return result

    return invoke


def in_doc(text: str) -> None:
    assert text in DOC, f"docs/adding-a-questionnaire.md should show this output as it is:\n{text}"


def test_the_guide_from_a_new_file_to_a_study_visit(tmp_path, run):
    # 1. Write (here: copy the example) and validate.
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    draft = drafts / "hand_function.yaml"
    shutil.copy(EXAMPLE, draft)
    assert "drafts/hand_function.yaml: ok: hand_function v1.0, 4 page(s), 10 item(s)" in \
        run("validate", "drafts/hand_function.yaml").output
    original = draft.read_text(encoding="utf-8")

    # The two errors the guide shows are what validate prints.
    draft.write_text(original.replace("  sv: Hand- och armfunktion i vardagen (exempel)\n", "", 1), encoding="utf-8")
    in_doc(run("validate", "drafts/hand_function.yaml", code=1).stderr.splitlines()[0])
    draft.write_text(original.replace("      items: [hf1, hf2, hf3, hf4, hf5, hf6]",
                                      "      items: [hf1, hf2, hf3, hf44, hf5, hf6]"), encoding="utf-8")
    in_doc(run("validate", "drafts/hand_function.yaml", code=1).stderr.splitlines()[0])
    draft.write_text(original, encoding="utf-8")

    # 3. Translate through the CSV: the guide's sample rows are real rows; a Swedish change goes back in.
    run("texts", "export", "drafts/hand_function.yaml", "--out", "hand_function.csv")
    exported = (tmp_path / "hand_function.csv").read_text(encoding="utf-8-sig").splitlines()
    for line in DOC.split("path,sv,en\n", 1)[1].split("```", 1)[0].strip().splitlines():
        assert line in exported, line
    with open(tmp_path / "hand_function.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    next(r for r in rows if r["path"] == "pages[hands].items[hands].rows[hf2].text")["sv"] = "knäppa knapparna?"
    with open(tmp_path / "hand_function.csv", "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "sv", "en"])
        writer.writeheader()
        writer.writerows(rows)
    assert "changed 1 text(s)" in run("texts", "import", "hand_function.csv", "drafts/hand_function.yaml").output
    assert "# Hand and Arm Function in Daily Life: a MADE-UP instrument" in draft.read_text(encoding="utf-8")
    assert load_file(draft).answer_text("hf2", "sv") == "knäppa knapparna?"

    # 4. The scoring worked example, computed by hand in the guide: 50 and 6.
    (tmp_path / "answers.json").write_text('{"hf1":0,"hf2":1,"hf3":2,"hf4":4,"hf6":3,"limit":6}')
    in_doc("""echo '{"hf1":0,"hf2":1,"hf3":2,"hf4":4,"hf6":3,"limit":6}' > answers.json""")
    scores = json.loads(run("score", "hand_function", "answers.json", env={"PRO_APP_QUESTIONNAIRES": "drafts"}).output)
    function, limitation = scores["scales"]
    assert (function["value"], function["missing"], function["min"], function["max"]) == (50.0, ["hf5"], 0.0, 100.0)
    assert limitation["value"] == 6.0

    # 5. Install beside the shipped questionnaires; validate against a data folder.
    shutil.copytree(ROOT / "questionnaires", tmp_path / "questionnaires")
    shutil.copy(draft, tmp_path / "questionnaires")
    env = {"PRO_APP_QUESTIONNAIRES": "questionnaires", "PRO_APP_STUDIES": "studies"}
    result = run("validate", "--data", "instance/data", env=env)
    assert "questionnaires/hand_function.yaml: ok" in result.output

    # 6. In a study's visit schedule.
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "hands_study.yaml").write_text(STUDY, encoding="utf-8")
    result = run("validate-studies", env=env)
    assert result.output.strip() == "studies/hands_study.yaml: ok: hands_study, 2 visit(s)"


def test_the_guides_diff_example_is_what_diff_prints(tmp_path, run):
    (tmp_path / "old").mkdir()
    (tmp_path / "drafts").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "old" / "hand_function.yaml")
    text = EXAMPLE.read_text(encoding="utf-8")
    edited = (text.replace('version: "1.0"', 'version: "1.0.1"')
              .replace('"öppna en burk med skruvlock?"', '"skruva upp en burk?"')
              .replace("    - {code: 4, text: {sv: Kan inte, en: Unable}}\n", ""))
    (tmp_path / "drafts" / "hand_function.yaml").write_text(edited, encoding="utf-8")
    result = run("diff", "old/hand_function.yaml", "drafts/hand_function.yaml", code=1)
    in_doc(result.stdout)
    problem = result.stderr.strip()
    head, tail = problem.split(" (", 1)
    in_doc(head + " (...) need" + tail.rsplit(") need", 1)[1])
