"""The FHIR R4 export as a receiving system takes it: every export here goes through the R4 JSON
schema, fhir.resources 6.4's R4 models and the checks they miss (tests/exports/fhir_checks.py)."""
from __future__ import annotations

import json
import re
import shutil
from fractions import Fraction

from click.testing import CliRunner

from clinic.conftest import (  # noqa: F401  (fixtures)
    ROOT, admin, answer, app, clinic_dirs, client_for, enrolled, nurse, staff, store,
)
from pro_app import create_app
from pro_app.cli import main
from pro_app.definitions import load_directory, load_file
from pro_app.export import export_text
from pro_app.fhir import (
    ENTRY_FORMAT, HIGHER_IS_BETTER, ITEM_CONTROL, MAX_VALUE, MIN_VALUE, OPTION_EXCLUSIVE, SCALE_RANGE, UNIT, UCUM,
    fhir_bundle, fhir_questionnaire,
)

from clinic.test_export import _dataset  # P-001: a tablet global, an English form, an exam by nurse Nina, an
#                                           unfinished global at month 1; P-002: one form at an extra visit

from .fhir_checks import check_bundle, check_resource, check_resources, empty_places

LOINC = "http://loinc.org"


def _of(resources, kind):
    return [r for r in resources.values() if r["resourceType"] == kind]


def _response(resources, qid, status=None):
    return next(r for r in _of(resources, "QuestionnaireResponse")
                if f":{qid}|" in r["questionnaire"] and (status is None or r["status"] == status))


def test_the_bundle_is_a_transaction_that_resolves_and_validates(app, store, enrolled, staff):
    _dataset(app, store, enrolled)
    text = export_text(app.extensions["pro_app"], "fhir", lang="en")
    bundle = json.loads(text)
    resources = check_bundle(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("QuestionnaireResponse") == 5 and kinds.count("Patient") == 2
    assert kinds.index("Questionnaire") < kinds.index("Patient") < kinds.index("QuestionnaireResponse")
    # One Encounter per visit: baseline and month 1 of P-001, the extra visit of P-002.
    encounters = _of(resources, "Encounter")
    assert sorted(e["identifier"][0]["value"] for e in encounters) == ["baseline", "extra", "m1"]
    m1 = next(e for e in encounters if e["identifier"][0]["value"] == "m1")
    assert m1["status"] == "in-progress" and m1["class"]["code"] == "AMB"
    exam = _response(resources, "test_exam")
    assert resources[exam["encounter"]["reference"]]["identifier"][0]["value"] == "baseline"
    assert resources[exam["subject"]["reference"]]["identifier"][0]["value"] == "P-001"
    # Who answered: the patient on the tablet, or nurse Nina by name only.
    tablet = _response(resources, "patient_global", "completed")
    assert tablet["author"] == tablet["source"] == tablet["subject"]
    assert exam["source"] == exam["author"]  # a clinician form: the nurse's own findings
    nurse_entry = resources[exam["author"]["reference"]]
    assert nurse_entry["resourceType"] == "Practitioner" and nurse_entry["name"] == [{"text": "nina"}]
    assert set(nurse_entry) == {"resourceType", "id", "name"}
    assert "password" not in text and "argon2" not in text and "staff:" not in text
    answers = {i["linkId"]: i["answer"] for page in exam["item"] for i in page["item"]}
    assert answers["EX_ck"] == [{"valueDecimal": 1234.5}]
    assert answers["EX_rash"][0]["valueCoding"]["code"] == "1" and answers["EX_rash"][0]["valueCoding"]["display"] == "Yes"
    # An unfinished response with answers; every observation points at its response and visit.
    assert _response(resources, "patient_global", "in-progress")["item"][0]["item"][0]["answer"] == [{"valueDecimal": 31.5}]
    for obs in _of(resources, "Observation"):
        assert obs["derivedFrom"][0]["reference"] in resources
        assert resources[obs["derivedFrom"][0]["reference"]]["encounter"] == obs["encounter"]
    # Exporting again gives the same ids and text: a receiving server's PUTs update, never duplicate.
    assert export_text(app.extensions["pro_app"], "fhir", lang="en") == text


def test_nothing_answered_is_no_element_and_none_of_these_is_a_coding(app, store, enrolled):
    patient, visits = enrolled
    answer(app, patient["id"], visits[0]["id"], "test_wellbeing", {}, complete=False)  # opened, nothing answered
    answer(app, patient["id"], visits[0]["id"], "haq", {"haq1a": 1, "aids1": ["none"], "help1": ["none"]})
    resources = check_bundle(fhir_bundle(app.extensions["pro_app"], "sv"))
    empty = _response(resources, "test_wellbeing")
    assert empty["status"] == "in-progress" and "item" not in empty
    haq = _response(resources, "haq")
    answered = {i["linkId"]: i for page in haq["item"] for i in page["item"]}
    assert answered["aids1"]["answer"] == [{"valueCoding": {"system": "urn:pro-app:questionnaire:haq", "code": "none",
                                                            "display": "Inga hjälpmedel"}}]
    assert "haq1b" not in json.dumps(haq) and "haq2" not in answered  # unanswered: absent, never an empty answer


def test_each_version_of_a_questionnaire_is_its_own_resource(app, store, enrolled, clinic_dirs):
    patient, visits = enrolled
    answer(app, patient["id"], visits[0]["id"], "patient_global", {"PtGA": 40.0})
    yaml_file = clinic_dirs["questionnaires"] / "patient_global.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    old = re.search(r'^version: "([^"]+)"', text, re.M).group(1)
    yaml_file.write_text(text.replace(f'version: "{old}"', 'version: "9.1"')
                         .replace("Extremt aktiv", "Mycket aktiv"), encoding="utf-8")
    newer = create_app({**app.config, "TESTING": True})
    answer(newer, patient["id"], visits[1]["id"], "patient_global", {"PtGA": 20.0})
    resources = check_bundle(fhir_bundle(newer.extensions["pro_app"], "sv"))
    versions = {r["id"]: r for r in _of(resources, "Questionnaire") if r["url"].endswith(":patient_global")}
    assert set(versions) == {f"patient-global-{old}", "patient-global-9.1"}
    assert "Extremt aktiv" in json.dumps(versions[f"patient-global-{old}"], ensure_ascii=False)
    assert "Mycket aktiv" in json.dumps(versions["patient-global-9.1"], ensure_ascii=False)
    pointed = sorted(r["questionnaire"] for r in _of(resources, "QuestionnaireResponse"))
    assert pointed == [f"urn:pro-app:questionnaire:patient_global|{old}", "urn:pro-app:questionnaire:patient_global|9.1"]


def _items(resource):
    for item in resource.get("item", []):
        yield item
        yield from _items(item)


def _extension(item, url):
    return next((e for e in item.get("extension", []) if e["url"] == url), None)


def test_questionnaires_carry_what_the_tablet_shows_and_its_constraints(tmp_path):
    shipped = load_directory(ROOT / "questionnaires")
    for q in shipped.values():
        for lang in ("sv", "en"):
            check_resource(fhir_questionnaire(q, lang))
    haq = fhir_questionnaire(shipped["haq"], "sv")
    assert haq["id"] == f"haq-{shipped['haq'].version}" and haq["code"][0] == {"system": LOINC, "code": "71950-0",
                                                          "display": "Health Assessment Questionnaire [HAQ]"}
    first_page = haq["item"][0]["item"]
    # The instructions, then the stem "Kan du" that the Swedish rows continue, then the rows.
    assert [i["type"] for i in first_page[:3]] == ["display", "display", "group"]
    assert first_page[0]["text"].startswith("Vi vill veta") and first_page[1]["text"] == "Kan du"
    assert first_page[2]["item"][0]["text"].startswith("klä dig själv")
    items = {i["linkId"]: i for i in _items(haq)}
    aids = items["aids1"]
    assert aids["answerOption"][-1]["valueCoding"]["code"] == "none"
    assert aids["answerOption"][-1]["extension"] == [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
    pain = next(i for i in items.values() if i.get("type") == "decimal")
    assert _extension(pain, MIN_VALUE) == {"url": MIN_VALUE, "valueDecimal": 0.0}
    assert _extension(pain, MAX_VALUE) == {"url": MAX_VALUE, "valueDecimal": 100.0}
    assert _extension(pain, UNIT)["valueCoding"] == {"system": UCUM, "code": "mm", "display": "mm"}
    assert _extension(pain, ITEM_CONTROL)["valueCodeableConcept"]["coding"][0]["code"] == "slider"
    anchors = {_extension(c, ITEM_CONTROL)["valueCodeableConcept"]["coding"][0]["code"]: c["text"] for c in pain["item"]}
    assert set(anchors) == {"lower", "upper"} and anchors["lower"] in _extension(pain, ENTRY_FORMAT)["valueString"]
    # A numeric lab value: its bounds as the form accepts them.
    enzymes = {i["linkId"]: i for i in _items(fhir_questionnaire(shipped["enzymes"], "en"))}
    assert _extension(enzymes["CK"], MAX_VALUE) == {"url": MAX_VALUE, "valueDecimal": 100000.0}
    assert enzymes["sample_date"]["type"] == "date" and enzymes["sample_date"]["required"] is True
    # A help text travels as a help display item under its question.
    source = (ROOT / "tests" / "fixtures" / "all_types.yaml").read_text(encoding="utf-8")
    with_help = tmp_path / "all_types.yaml"
    with_help.write_text(source.replace('text: {sv: "Röker du?", en: "Do you smoke?"}',
                                        'text: {sv: "Röker du?", en: "Do you smoke?"}\n'
                                        '        help: {sv: "Även e-cigaretter.", en: "E-cigarettes too."}'),
                         encoding="utf-8")
    fixture = fhir_questionnaire(load_file(with_help), "en")
    smoker = next(i for i in _items(fixture) if i["linkId"] == "smoker")
    assert smoker["item"] == [{"linkId": "smoker-help", "text": "E-cigarettes too.", "type": "display",
                               "extension": [{"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [
                                   {"system": "http://hl7.org/fhir/questionnaire-item-control", "code": "help"}]}}]}]
    check_resource(fixture)


def test_skip_logic_is_enable_when_typed_as_the_question_it_tests():
    q = load_file(ROOT / "tests" / "fixtures" / "all_types.yaml")
    resource = fhir_questionnaire(q, "en")
    items = {i["linkId"]: i for i in _items(resource)}
    assert items["cigarettes"]["enableWhen"] == [{"question": "smoker", "operator": "=",
                                                  "answerCoding": {"system": "urn:pro-app:questionnaire:all_types",
                                                                   "code": "1"}}]
    kinds = {i["linkId"]: i.get("type") for i in items.values()}
    value_keys = {"integer": "answerInteger", "decimal": "answerDecimal", "choice": "answerCoding",
                  "date": "answerDate", "string": "answerString", "text": "answerString"}
    for item in items.values():
        for when in item.get("enableWhen", []):
            if when["operator"] != "exists":
                key = next(k for k in when if k.startswith("answer"))
                assert key == value_keys[kinds[when["question"]]], (item["linkId"], when)


def test_observations_are_coded_with_units_category_and_range(app, store, enrolled):
    patient, visits = enrolled
    # HAQ-DI by the published rule (Bruce & Fries 2003): the highest answer in each of the 8
    # categories (1, 2, 0, 1, 3, 0, 1, 2), no aids or help, summed (10) and divided by 8: 1.25.
    haq = {"haq1a": 1, "haq1b": 0, "haq2a": 2, "haq2b": 1, "haq3a": 0, "haq3b": 0, "haq3c": 0, "haq4a": 1,
           "haq4b": 0, "haq5a": 3, "haq5b": 0, "haq5c": 0, "haq6a": 0, "haq6b": 0, "haq7a": 1, "haq7b": 0,
           "haq7c": 0, "haq8a": 2, "haq8b": 0, "haq8c": 0, "aids1": ["none"], "help1": ["none"], "aids2": ["none"],
           "help2": ["none"], "haq_pain": 35.0}
    answer(app, patient["id"], visits[0]["id"], "haq", haq, actor="patient:tablet(handed over by staff:nina)")
    answer(app, patient["id"], visits[0]["id"], "enzymes", {"sample_date": "2025-01-30", "CK": 4.2, "CK_unit": "ukat_L",
                                                            "CK_ULN": 3.5})
    answer(app, patient["id"], visits[0]["id"], "mfi2", {"FI2_head_lift": 30})
    resources = check_bundle(fhir_bundle(app.extensions["pro_app"], "en"))
    observations = {o["code"]["coding"][-1]["code"]: o for o in _of(resources, "Observation")}
    di = observations["HAQ_DI"]
    assert di["code"]["coding"][0] == {"system": LOINC, "code": "75874-8", "display": "Total score [HAQ-DI]"}
    assert di["code"]["coding"][1]["system"] == "urn:pro-app:questionnaire:haq:scale"
    assert di["category"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                              "code": "survey", "display": "Survey"}
    assert Fraction(str(di["valueQuantity"]["value"])) == Fraction(5, 4)
    assert di["valueQuantity"] | {"value": 0} == {"value": 0, "unit": "{score}", "system": UCUM, "code": "{score}"}
    assert "referenceRange" not in di
    scale_range = next(e for e in di["extension"] if e["url"] == SCALE_RANGE)["valueRange"]
    assert (scale_range["low"]["value"], scale_range["high"]["value"]) == (0, 3)
    assert next(e for e in di["extension"] if e["url"] == HIGHER_IS_BETTER)["valueBoolean"] is False
    pain = next(o for o in observations.values() if o.get("valueQuantity", {}).get("code") == "mm")
    assert pain["valueQuantity"]["value"] == 35.0 and pain["valueQuantity"]["unit"] == "mm"
    ck = observations["CK"]
    assert ck["code"]["coding"][0] == {"system": LOINC, "code": "2157-6"}  # ARUP 3002030's component list
    assert ck["category"][0]["coding"][0]["code"] == "laboratory"
    assert ck["valueQuantity"] == {"value": 4.2, "unit": "µkat/L", "system": UCUM, "code": "ukat/L"}
    assert ck["referenceRange"] == [{"high": {"value": 3.5, "unit": "µkat/L", "system": UCUM, "code": "ukat/L"},
                                     "text": "ULN"}]  # the lab's upper limit of normal: a true reference range
    assert "high" not in next(e for e in ck["extension"] if e["url"] == SCALE_RANGE)["valueRange"]
    assert observations["FI2_head_lift"]["valueQuantity"]["code"] == "%"
    assert "maxima" in observations["FI2_head_lift"]["note"][0]["text"]  # a provisional instrument says why
    haq_response = _response(resources, "haq")
    assert all(o["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{haq_response['id']}"}]
               for o in observations.values() if o["derivedFrom"][0]["reference"].endswith(haq_response["id"]))


def test_ndjson_writes_one_file_per_type_and_since_exports_only_what_changed(app, store, enrolled, clinic_dirs, staff,
                                                                              tmp_path, monkeypatch):
    patient, visits = _dataset(app, store, enrolled)
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(clinic_dirs["questionnaires"]))
    runner = CliRunner()
    out = tmp_path / "bulk"
    result = runner.invoke(main, ["export", "--format", "fhir-ndjson", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["Encounter.ndjson", "Observation.ndjson", "Patient.ndjson", "Practitioner.ndjson",
                     "Questionnaire.ndjson", "QuestionnaireResponse.ndjson"]
    resources = []
    for name in files:
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        parsed = [json.loads(line) for line in lines]
        assert {r["resourceType"] for r in parsed} == {name.removesuffix(".ndjson")}
        resources += parsed
    by_key = check_resources(resources)
    bundle = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
              for e in json.loads(export_text(app.extensions["pro_app"], "fhir", lang="en"))["entry"]}
    assert by_key == bundle  # the same resources as the bundle
    # Incremental: only what changed after the first export, with its patient and visit.
    newer = answer(app, patient["id"], visits[1]["id"], "test_exam", {"EX_neck": 9})
    since = tmp_path / "since.json"
    result = runner.invoke(main, ["export", "--format", "fhir", "--out", str(since), "--since", newer["started_at"]])
    assert result.exit_code == 0, result.output
    changed = check_bundle(json.loads(since.read_text(encoding="utf-8")))
    assert [r["id"] for r in _of(changed, "QuestionnaireResponse")] == [newer["id"]]
    assert [e["identifier"][0]["value"] for e in _of(changed, "Encounter")] == ["m1"]
    assert len(_of(changed, "Patient")) == 1 and len(_of(changed, "Questionnaire")) == len(_of(by_key, "Questionnaire"))
    assert runner.invoke(main, ["export", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--since", "2025-01-01"]
                         ).exit_code == 2
    bad = runner.invoke(main, ["export", "--format", "fhir", "--out", str(since), "--since", "yesterday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    assert any(e["action"] == "export" and "since" in json.dumps(e) for e in store.audit_entries())
    shutil.rmtree(out)


def test_an_empty_registry_exports_a_bundle_without_an_empty_entry_array(app):
    bundle = fhir_bundle(app.extensions["pro_app"], "sv")
    assert list(empty_places(bundle)) == []
    check_bundle(bundle)
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"Questionnaire"}


def test_administrators_download_the_bundle_and_the_zipped_ndjson(app, store, enrolled, admin, nurse):
    import io
    import zipfile

    _dataset(app, store, enrolled)
    page = admin.get("/staff/export").text
    assert 'data-export="fhir"' in page and 'data-export="fhir-ndjson"' in page
    bundle = admin.get("/staff/export/fhir")
    assert bundle.is_streamed and bundle.mimetype == "application/fhir+json"
    check_bundle(json.loads(bundle.data))
    download = admin.get("/staff/export/fhir-ndjson")
    assert download.status_code == 200 and download.mimetype == "application/zip" and download.is_streamed
    assert download.headers["Content-Disposition"].endswith('.zip"')
    with zipfile.ZipFile(io.BytesIO(download.data)) as zipped:
        names = sorted(zipped.namelist())
        resources = [json.loads(line) for name in names for line in zipped.read(name).decode("utf-8").splitlines()]
    assert names == ["Encounter.ndjson", "Observation.ndjson", "Patient.ndjson", "Practitioner.ndjson",
                     "Questionnaire.ndjson", "QuestionnaireResponse.ndjson"]
    assert len(check_resources(resources)) == len(json.loads(bundle.data)["entry"])
    assert nurse.get("/staff/export/fhir-ndjson").status_code == 403
    assert any(e["action"] == "export" and "fhir-ndjson" in json.dumps(e) for e in store.audit_entries())


def test_skip_logic_enable_when_cannot_state_travels_as_fhirpath():
    from pathlib import Path

    q = load_file(Path(__file__).with_name("fixtures") / "nested_skip_logic.yaml")
    resource = fhir_questionnaire(q, "en")
    check_resource(resource)
    items = {i["linkId"]: i for i in _items(resource)}
    nested = items["severe_or_organ"]
    assert "enableWhen" not in nested
    expression = nested["extension"][0]
    assert expression["url"] == "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
    assert expression["valueExpression"]["language"] == "text/fhirpath"
    assert " and " in expression["valueExpression"]["expression"] and " or " in expression["valueExpression"]["expression"]
    # not_in: the question must be answered (pro-app's meaning) and differ; FHIR's != alone holds when unanswered.
    assert items["not_muscle"]["enableBehavior"] == "all"
    assert [w["operator"] for w in items["not_muscle"]["enableWhen"]] == ["exists", "!="]
