"""Loading and validating questionnaire YAML: valid files, and broken ones with file:line errors."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from pro_app.cli import main
from pro_app.definitions import DefinitionErrors, json_schema, load_directory, load_text

ROOT = Path(__file__).resolve().parent.parent

VALID = """\
id: demo
version: "2"
title: {sv: Demo, en: Demo}
source: Test fixture
license: {sv: fri, en: free}
audience: patient
option_sets:
  agree:
    - {code: 1, text: {sv: Ja, en: Yes}}
    - {code: 0, text: {sv: Nej, en: No}}
pages:
  - id: p1
    items:
      - id: q1
        type: single
        text: {sv: Fråga 1, en: Question 1}
        options: agree
      - id: q2
        type: numeric
        min: 0
        max: 10
        text: {sv: Fråga 2, en: Question 2}
        show_if: {item: q1, equals: 1}
scoring:
  scorer: declarative
  scales:
    - id: total
      label: {sv: Summa, en: Total}
      method: sum
      items: [q1]
      higher_is_better: true
"""


def marked(text: str) -> tuple[str, int]:
    """The YAML without its '# <-' marker, and the 1-based line the marker was on."""
    text = textwrap.dedent(text)
    lines = text.splitlines()
    line = next(i for i, l in enumerate(lines, 1) if "# <-" in l)
    return "\n".join(l.split("# <-")[0].rstrip() for l in lines) + "\n", line


def errors_of(text: str) -> list:
    with pytest.raises(DefinitionErrors) as exc:
        load_text(text, "demo.yaml")
    return exc.value.errors


def test_valid_file_loads_with_hash():
    q = load_text(VALID, "demo.yaml")
    assert q.id == "demo" and q.version == "2"
    assert [i.id for i in q.items()] == ["q1", "q2"]
    assert q.definition_hash.startswith("sha256:")
    # Comments and formatting do not change what the definition means, so not its hash.
    assert load_text("# a comment\n" + VALID, "x.yaml").definition_hash == q.definition_hash
    assert load_text(VALID.replace("Fråga 1", "Fråga ett"), "x.yaml").definition_hash != q.definition_hash


def test_yes_and_no_stay_text_not_booleans():
    q = load_text(VALID, "demo.yaml")
    assert q.option_sets["agree"][0].text.en == "Yes"


def test_skip_logic_evaluates():
    q = load_text(VALID, "demo.yaml")
    page = q.pages[0]
    assert [i.id for i in q.visible_items(page, {})] == ["q1"]
    assert [i.id for i in q.visible_items(page, {"q1": 1})] == ["q1", "q2"]
    assert [i.id for i in q.visible_items(page, {"q1": 0})] == ["q1"]


def on_q1(line: str) -> str:
    """VALID with one more key on the single-choice item q1, marked as the line an error points at."""
    return VALID.replace("options: agree\n      - id: q2", f"options: agree\n        {line}  # <-\n      - id: q2")


def with_multiple(none_option: str) -> str:
    """VALID with a checkbox item 'qm' (options 'agree') whose none option is ``none_option``."""
    return VALID.replace("""        options: agree
      - id: q2""", f"""        options: agree
      - id: qm
        type: multiple
        text: {{sv: Flera, en: Several}}
        options: agree
        {none_option}
      - id: q2""")


BROKEN = {
    "yaml syntax": (
        VALID.replace("title: {sv: Demo, en: Demo}", "title: {sv: Demo, en: Demo  # <-"),
        "YAML",
    ),
    "duplicate key": (VALID.replace('version: "2"', 'version: "2"\nversion: "3"  # <-'), "duplicate key 'version'"),
    "missing Swedish text": (
        VALID.replace("text: {sv: Fråga 2, en: Question 2}", "text: {en: Question 2}  # <-"),
        "Swedish text ('sv') is missing",
    ),
    "unknown item type": (VALID.replace("type: numeric", "type: slider  # <-"), "unknown item type 'slider'"),
    "skip logic to missing item": (
        VALID.replace("show_if: {item: q1, equals: 1}", "show_if: {item: q9, equals: 1}  # <-"),
        "skip logic refers to item 'q9', which does not exist",
    ),
    "skip logic to later item": (
        VALID.replace("options: agree", "options: agree\n        show_if: {item: q2, gte: 1}  # <-"),
        "which comes later",
    ),
    "duplicate item id": (VALID.replace("- id: q2", "- id: q1  # <-"), "duplicate item id 'q1'"),
    "unknown key": (VALID.replace("options: agree", "options: agree\n        requird: true  # <-"), "unknown key 'requird'"),
    "unknown option set": (VALID.replace("options: agree", "options: agreement  # <-"), "unknown option set 'agreement'"),
    "unknown scorer": (VALID.replace("scorer: declarative", "scorer: nosuch  # <-"), "unknown scorer 'nosuch'"),
    "numeric range": (VALID.replace("max: 10", "max: 0  # <-"), "min (0) must be below max (0)"),
    "duplicate option code": (
        VALID.replace("- {code: 0, text: {sv: Nej, en: No}}", "- {code: 1, text: {sv: Nej, en: No}}  # <-"),
        "duplicate option code 1",
    ),
    "scale item missing": (VALID.replace("items: [q1]", "items: [q1, q7]  # <-"), "scale uses item 'q7', which does not exist"),
    "two tests in one condition": (
        VALID.replace("show_if: {item: q1, equals: 1}", "show_if: {item: q1, equals: 1, gte: 0}  # <-"),
        "exactly one test",
    ),
    "questionnaire id with a dot": (VALID.replace("id: demo", "id: demo.v2  # <-"), "not a valid questionnaire id"),
    "bad id": (VALID.replace("- id: q2", "- id: 2nd question  # <-"), "not a valid id"),
    "missing version": (VALID.replace('version: "2"\n', "").replace("id: demo", "id: demo  # <-"), "required key 'version' is missing"),
    "empty Swedish text": (VALID.replace("{sv: Demo, en: Demo}", "{sv: '', en: Demo}  # <-"), "Swedish text ('sv') is empty"),
    "wrong audience": (VALID.replace("audience: patient", "audience: doctor  # <-"), "'patient' or 'clinician'"),
    "none option code also an option code": (
        with_multiple("none_option:\n          code: 1  # <-\n          text: {sv: Inget av dessa, en: None of these}"),
        "the none option's code 1 is also the code of an option",
    ),
    "none option without Swedish text": (
        with_multiple("none_option: {code: none, text: {en: None of these}}  # <-"),
        "Swedish text ('sv') is missing",
    ),
    "none option on a single-choice item": (
        on_q1("none_option: {text: {sv: x, en: x}}"),
        "unknown key 'none_option'",
    ),
    "default_from an unknown setting": (
        on_q1("default_from: shoe_size"),
        "enzyme_unit",
    ),
    "default_from whose codes are not options": (
        on_q1("default_from: enzyme_unit"),
        "the setting 'enzyme_unit' can be ukat_L, U_L, which is not an option code of this item",
    ),
    "provisional without English text": (
        VALID.replace("audience: patient", "audience: patient\nprovisional: {sv: Ej verifierad}  # <-"),
        "English text ('en') is missing",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_yaml_reports_file_line_and_message(case):
    text, expected = BROKEN[case]
    clean, line = marked(text)
    errors = errors_of(clean)
    assert any(expected in str(e) for e in errors), [str(e) for e in errors]
    hit = next(e for e in errors if expected in str(e))
    assert hit.file == "demo.yaml"
    # A syntax error is reported where the parser noticed it, which may be a line later.
    assert hit.line == line or (case == "yaml syntax" and line <= hit.line <= line + 1), str(hit)
    assert str(hit).startswith(f"demo.yaml:{hit.line}: ")


def test_empty_and_non_mapping_files():
    assert "empty" in errors_of("")[0].message
    assert "mapping" in errors_of("- a\n- b\n")[0].message


def test_several_errors_are_all_reported():
    text = VALID.replace("type: numeric", "type: slider").replace("scorer: declarative", "scorer: nosuch")
    with pytest.raises(DefinitionErrors) as exc:
        load_text(text, "demo.yaml")
    # Structural errors first: the type error stops model building, so one run shows it...
    assert any("slider" in e.message for e in exc.value.errors)
    # ...and once fixed, the cross-reference error shows.
    with pytest.raises(DefinitionErrors) as exc:
        load_text(VALID.replace("scorer: declarative", "scorer: nosuch"), "demo.yaml")
    assert any("nosuch" in e.message for e in exc.value.errors)


def test_duplicate_questionnaire_ids_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(VALID, encoding="utf-8")
    with pytest.raises(DefinitionErrors) as exc:
        load_directory(tmp_path)
    assert "also used by" in str(exc.value)


def test_every_shipped_questionnaire_is_valid():
    questionnaires = load_directory(ROOT / "questionnaires")
    assert "patient_global" in questionnaires
    for q in questionnaires.values():
        for item in q.items():
            assert item.text.sv and item.text.en


def test_validate_command_ok_and_errors(tmp_path):
    runner = CliRunner()
    good = tmp_path / "good.yaml"
    good.write_text(VALID, encoding="utf-8")
    result = runner.invoke(main, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "ok: demo v2" in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("type: numeric", "type: slider"), encoding="utf-8")
    result = runner.invoke(main, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:19: pages[0].items[1].type: unknown item type 'slider'" in result.output


def test_validate_defaults_to_the_questionnaire_folder():
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "patient_global" in result.output


def test_app_refuses_to_start_with_an_invalid_questionnaire(tmp_path, monkeypatch):
    from pro_app import create_app

    (tmp_path / "bad.yaml").write_text(VALID.replace("type: numeric", "type: slider"), encoding="utf-8")
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(tmp_path))
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SystemExit) as exc:
        create_app()
    assert "bad.yaml:19" in str(exc.value) and "slider" in str(exc.value)


def test_json_schema_for_editors():
    schema = json_schema()
    assert "pages" in schema["properties"] and "definition_hash" not in schema["properties"]
    # The none option, clinic-setting defaults and the provisional reason are part of the language.
    assert "provisional" in schema["properties"]
    defs = schema["$defs"]
    assert "none_option" in defs["MultipleChoice"]["properties"] and "NoneOption" in defs
    assert "none_option" not in defs["SingleChoice"]["properties"]
    assert "enzyme_unit" in str(defs["SingleChoice"]["properties"]["default_from"])


def test_none_option_is_listed_last_and_exclusive():
    from pro_app.answers import normalise_value

    text = with_multiple("none_option: {text: {sv: Inget av dessa, en: None of these}}")
    q = load_text(text, "demo.yaml")
    assert [o.code for o in q.options_for("qm")] == [1, 0, "none"]
    assert [o.code for o in q.item("qm").listed_options(q)] == [1, 0]
    assert normalise_value(q, "qm", ["none"]) == ["none"]
    assert normalise_value(q, "qm", []) is None  # nothing ticked is no answer
    assert normalise_value(q, "qm", ["1", "0"]) == [1, 0]
    with pytest.raises(ValueError, match="cannot be combined"):
        normalise_value(q, "qm", ["none", "1"])
