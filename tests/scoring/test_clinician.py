"""Clinician-reported core set measures: every questionnaire loads, every scorer has golden cases."""
from __future__ import annotations

from fractions import Fraction

import pytest

from pro_app.config import questionnaire_dir
from pro_app.definitions import load_file
from pro_app.scoring import score
from pro_app.scoring.mfi2 import task_items
from pro_app.scoring.mmt8 import MUSCLE_GROUPS

CLINICIAN_FORMS = ["physician_global", "mmt8", "myoact", "enzymes", "mfi2", "adverse_events"]


def load(qid: str):
    return load_file(questionnaire_dir() / f"{qid}.yaml")


def by_id(scales):
    return {s.id: s for s in scales}


@pytest.mark.parametrize("qid", CLINICIAN_FORMS)
def test_clinician_forms_load_as_staff_only(qid):
    q = load(qid)
    assert q.id == qid
    assert q.audience == "clinician"


def test_physician_global_is_a_vas_in_mm():
    scales = by_id(score(load("physician_global"), {"PhGA": 42.5}))
    assert scales["PhGA"].value == 42.5 and scales["PhGA"].max == 100.0 and not scales["PhGA"].higher_is_better


def mmt_answers(grade: float = 10) -> dict[str, float]:
    answers = {"MMT_neck_flexors": grade}
    for group in MUSCLE_GROUPS:
        answers[f"MMT_{group}_R"] = grade
        answers[f"MMT_{group}_L"] = grade
    return answers


def test_mmt8_normal_strength_is_80_and_150():
    # Rider LG et al. Arthritis Care Res 2010;62:465-72: 8 groups x 10 = 80 unilateral; 15 x 10 = 150 bilateral.
    scales = by_id(score(load("mmt8"), mmt_answers(10)))
    assert scales["MMT8_total"].value == 80 and scales["MMT8_total"].max == 80
    assert scales["MMT8_bilateral"].value == 150 and scales["MMT8_bilateral"].max == 150
    assert scales["MMT8_total"].higher_is_better


def test_mmt8_unilateral_total_uses_neck_and_the_right_side_only():
    answers = mmt_answers(7)
    answers.update({f"MMT_{g}_L": 3 for g in MUSCLE_GROUPS})
    scales = by_id(score(load("mmt8"), answers))
    assert scales["MMT8_total"].value == 56  # 8 x 7, hand-computed
    assert scales["MMT8_bilateral"].value == 7 + 7 * 7 + 7 * 3  # 77


def test_mmt8_missing_group_makes_totals_not_computable_never_prorated():
    answers = mmt_answers(9)
    del answers["MMT_quadriceps_R"]
    scales = by_id(score(load("mmt8"), answers))
    assert scales["MMT8_total"].value is None
    assert scales["MMT8_total"].missing == ["MMT_quadriceps_R"]
    assert "prorated" in scales["MMT8_total"].reason["en"] and scales["MMT8_total"].reason["sv"]
    # The reason names the muscle group as the form does, never its id.
    assert "Quadriceps (knee extensors), right" in scales["MMT8_total"].reason["en"]
    assert "Quadriceps (knäextensorer), höger" in scales["MMT8_total"].reason["sv"]
    assert "MMT_" not in scales["MMT8_total"].reason["en"] + scales["MMT8_total"].reason["sv"]
    assert scales["MMT8_bilateral"].value is None


def test_mmt8_other_side_substitution_is_opt_in_and_reported():
    q = load("mmt8")
    q = q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {"side": "R", "substitute_other_side": True}})})
    answers = mmt_answers(9)
    del answers["MMT_quadriceps_R"]
    answers["MMT_quadriceps_L"] = 5
    total = by_id(score(q, answers))["MMT8_total"]
    assert total.value == 7 * 9 + 5
    assert total.extra["substituted"] == {"MMT_quadriceps_R": "MMT_quadriceps_L"}


def test_myoact_systems_global_and_extramuscular_score():
    answers = {"MYOACT_constitutional": 20, "MYOACT_cutaneous": 40, "MYOACT_skeletal": 0,
               "MYOACT_pulmonary": 30, "MYOACT_muscle": 55, "extramuscular_global": 35}
    scales = by_id(score(load("myoact"), answers))
    assert scales["MYOACT_cutaneous"].value == 40
    assert scales["MYOACT_gastrointestinal"].value is None  # unmarked = not assessed, never 0
    assert scales["extramuscular_global"].value == 35
    # Proposed MYOACT scoring: sum over assessed systems / their maximum: (20+40+0+30)/(4 x 100) = 0.225.
    assert scales["MYOACT_extramuscular"].value == 0.225
    assert scales["MYOACT_extramuscular"].missing == ["MYOACT_gastrointestinal", "MYOACT_cardiac"]


def test_myoact_unmarked_global_is_missing():
    scales = by_id(score(load("myoact"), {"MYOACT_cutaneous": 10}))
    assert scales["extramuscular_global"].value is None and scales["extramuscular_global"].reason


def test_enzymes_value_and_multiple_of_uln():
    answers = {"sample_date": "2024-03-01", "CK": 12.6, "CK_unit": "ukat_L", "CK_ULN": 3.5,
               "aldolase": 9.0, "aldolase_unit": "U_L", "aldolase_ULN": 7.5}
    scales = by_id(score(load("enzymes"), answers))
    assert scales["CK"].value == 12.6 and scales["CK"].unit == "µkat/L" and scales["CK"].extra["unit"] == "ukat_L"
    assert scales["CK"].extra["value_U_L"] == 756.0  # 12.6 x 60
    assert scales["CK_xULN"].value == 3.6  # 12.6 / 3.5
    assert scales["aldolase_xULN"].value == 1.2  # 9.0 / 7.5
    assert "LD" not in scales  # optional enzymes only when measured
    assert scales["enzyme_most_abnormal"].value == 3.6 and scales["enzyme_most_abnormal"].extra["enzyme"] == "CK"


def test_enzymes_ratio_needs_the_upper_limit():
    scales = by_id(score(load("enzymes"), {"CK": 800, "CK_unit": "U_L"}))
    assert scales["CK"].value == 800
    assert scales["CK_xULN"].value is None and "upper limit" in scales["CK_xULN"].reason["en"]


def fi2_answers(reps: int) -> dict[str, int]:
    return {i: reps for i in task_items(["R", "L"])}


def test_mfi2_task_maxima_are_the_item_maxima():
    # Alexanderson H et al. Arthritis Rheum 2006;55:114-22: 7 tasks, repetitions up to the task maximum.
    q = load("mfi2")
    assert len(task_items(["R", "L"])) == 13
    assert {q.item(i).max for i in task_items(["R", "L"])} == {60}


def test_mfi2_per_task_and_total_percent_of_maximum():
    answers = fi2_answers(60)
    answers["FI2_shoulder_flexion_R"] = 30
    answers["FI2_head_lift"] = 15
    scales = by_id(score(load("mfi2"), answers))
    assert scales["FI2_shoulder_flexion_R"].value == 50.0  # 30 / 60
    assert scales["FI2_head_lift"].value == 25.0  # 15 / 60
    # (11 x 60 + 30 + 15) / (13 x 60) = 705 / 780 = 90.38... %
    assert scales["FI2_total"].exact == Fraction(705, 780) * 100


def test_mfi2_total_not_computable_with_a_task_missing():
    answers = fi2_answers(40)
    del answers["FI2_step_test_L"]
    total = by_id(score(load("mfi2"), answers))["FI2_total"]
    assert total.value is None and total.missing == ["FI2_step_test_L"]
    assert "Step test, left" in total.reason["en"] and "Steg upp på pall, vänster" in total.reason["sv"]
    assert "FI2_" not in total.reason["en"] + total.reason["sv"]


def test_adverse_events_counts_follow_the_slots():
    answers = {
        "AE_any": 1,
        "AE1_date": "2024-02-01", "AE1_description": "Injection site reaction", "AE1_severity": 1,
        "AE1_relation": 5, "AE1_serious": 0, "AE1_another": 1,
        "AE2_date": "2024-02-10", "AE2_description": "Pneumonia", "AE2_severity": 3,
        "AE2_relation": 3, "AE2_serious": 1, "AE2_another": 0,
        # a stale third slot, hidden because AE2_another is no: not counted
        "AE3_description": "Headache", "AE3_severity": 1, "AE3_relation": 1, "AE3_serious": 0,
    }
    scales = by_id(score(load("adverse_events"), answers))
    assert scales["AE_count"].value == 2
    assert scales["AE_serious"].value == 1
    assert scales["AE_severe"].value == 1
    assert scales["AE_related"].value == 2


def test_adverse_events_none_and_unanswered():
    assert by_id(score(load("adverse_events"), {"AE_any": 0}))["AE_count"].value == 0
    assert by_id(score(load("adverse_events"), {}))["AE_count"].value is None


# ---------------------------------------------------------------- edges of every clinician scorer


def test_enzyme_units_convert_at_60_u_per_ukat_and_are_read_as_people_write_them():
    from pro_app.scoring.enzymes import enzyme_unit_code, from_u_per_l, to_u_per_l, unit_symbol

    # 1 µkat/L = 60 U/L (1 U = 1 µmol/min; 1 kat = 1 mol/s).
    assert to_u_per_l(1, "ukat_L") == 60 and to_u_per_l(150, "U_L") == 150
    assert from_u_per_l(600, "ukat_L") == 10 and from_u_per_l(600, "U_L") == 600
    assert (unit_symbol("ukat_L"), unit_symbol("U_L"), unit_symbol(None)) == ("µkat/L", "U/L", None)
    for text in ("µkat/L", "ukat/L", " µKAT/l ", "ukat_L"):
        assert enzyme_unit_code(text) == "ukat_L"
    for text in ("U/L", "u/l", "IU/L", "U_L"):
        assert enzyme_unit_code(text) == "U_L"
    with pytest.raises(ValueError, match="unknown enzyme unit"):
        enzyme_unit_code("mmol/L")


def test_enzymes_in_u_per_l_and_a_value_without_its_unit():
    scales = by_id(score(load("enzymes"), {"CK": 800, "CK_unit": "U_L", "CK_ULN": 200, "LD": 5, "LD_ULN": 4}))
    assert scales["CK"].extra == {"unit": "U_L", "uln": 200.0, "value_U_L": 800.0, "uln_U_L": 200.0}
    assert scales["CK"].unit == "U/L" and scales["CK"].missing == []
    # LD without a unit: its number is kept, but it cannot be converted.
    assert scales["LD"].value == 5 and scales["LD"].unit is None and scales["LD"].missing == ["LD_unit"]
    assert scales["LD"].extra["value_U_L"] is None and scales["LD"].extra["uln_U_L"] is None
    assert scales["LD_xULN"].value == 1.25  # value / ULN needs no unit: both are in the lab's unit
    assert scales["enzyme_most_abnormal"].extra["enzyme"] == "CK"  # 4 x ULN beats 1.25 x
    assert scales["enzyme_most_abnormal"].answered == 2 and scales["enzyme_most_abnormal"].items == 5
    assert scales["enzyme_most_abnormal"].extra["enzyme_label"] == {"sv": "CK (kreatinkinas)", "en": "CK (creatine kinase)"}


def test_enzymes_ties_go_to_the_first_in_order_and_a_zero_limit_is_no_limit():
    scales = by_id(score(load("enzymes"), {"CK": 400, "CK_unit": "U_L", "CK_ULN": 200,
                                           "aldolase": 15, "aldolase_unit": "U_L", "aldolase_ULN": 7.5}))
    assert scales["enzyme_most_abnormal"].extra["enzyme"] == "CK"  # both 2 x ULN: CK comes first
    zero = by_id(score(load("enzymes"), {"CK": 400, "CK_unit": "U_L", "CK_ULN": 0}))
    assert zero["CK_xULN"].value is None and "upper limit" in zero["CK_xULN"].reason["en"]
    assert zero["enzyme_most_abnormal"].value is None and zero["enzyme_most_abnormal"].reason["sv"]


def test_enzymes_ck_is_reported_missing_and_the_ratio_lists_what_is_missing():
    scales = by_id(score(load("enzymes"), {"aldolase": 9, "aldolase_unit": "U_L"}))
    assert scales["CK"].value is None and scales["CK"].missing == ["CK"] and scales["CK"].reason["sv"]
    # CK's upper limit is asked only once CK has a value (skip logic): not shown, so not missing.
    assert scales["CK_xULN"].missing == ["CK"] and scales["CK_xULN"].answered == 0
    assert scales["aldolase_xULN"].missing == ["aldolase_ULN"] and scales["aldolase_xULN"].items == 2
    assert scales["aldolase_xULN"].answered == 1  # the value, not its upper limit
    full = by_id(score(load("enzymes"), {"CK": 400, "CK_unit": "U_L", "CK_ULN": 200}))
    assert (full["CK_xULN"].answered, full["CK_xULN"].items, full["CK"].answered, full["CK"].items) == (2, 2, 1, 1)
    assert "LD" not in scales


def test_mmt8_left_side_option():
    q = load("mmt8")
    q = q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {"side": "L"}})})
    answers = mmt_answers(7)
    answers.update({f"MMT_{g}_L": 4 for g in MUSCLE_GROUPS})
    total = by_id(score(q, answers))["MMT8_total"]
    assert total.value == 7 + 7 * 4 and total.label["en"] == "MMT-8 total (left side)"
    assert total.label["sv"] == "MMT-8 totalpoäng (vänster sida)"
    assert by_id(score(load("mmt8"), answers))["MMT8_total"].label["sv"] == "MMT-8 totalpoäng (höger sida)"


def test_mmt8_substitution_never_for_the_neck_and_only_when_asked():
    q = load("mmt8")
    q = q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {"substitute_other_side": True}})})
    answers = mmt_answers(9)
    del answers["MMT_neck_flexors"]
    total = by_id(score(q, answers))["MMT8_total"]
    assert total.value is None and total.missing == ["MMT_neck_flexors"] and total.answered == 7
    answers = mmt_answers(9)
    del answers["MMT_deltoid_R"]
    assert by_id(score(load("mmt8"), answers))["MMT8_total"].value is None  # default: no substitution
    assert by_id(score(q, answers))["MMT8_total"].value == 8 * 9


def test_myoact_without_the_muscle_system_and_every_system_assessed():
    q = load("myoact")
    answers = {f"MYOACT_{s}": 50 for s in ("constitutional", "cutaneous", "skeletal", "gastrointestinal",
                                          "pulmonary", "cardiac")}
    scales = by_id(score(q, answers))
    assert scales["MYOACT_extramuscular"].value == 0.5 and scales["MYOACT_extramuscular"].missing == []
    assert scales["MYOACT_muscle"].value is None and scales["MYOACT_muscle"].missing == ["MYOACT_muscle"]
    assert scales["MYOACT_cutaneous"].answered == 1 and scales["MYOACT_muscle"].answered == 0
    assert by_id(score(q, {}))["MYOACT_extramuscular"].value is None
    pages = [p.model_copy(update={"items": [i for i in p.items if i.id != "MYOACT_muscle"]}) for p in q.pages]
    no_muscle = q.model_copy(update={"pages": [p for p in pages if p.items]})
    assert "MYOACT_muscle" not in by_id(score(no_muscle, answers))


def test_vas_in_cm_and_the_direction_option():
    q = load("physician_global")
    cm = q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {"unit": "cm"}})})
    s = by_id(score(cm, {"PhGA": 42.5}))["PhGA"]
    assert (s.exact, s.max, s.unit, s.decimals) == (Fraction(17, 4), 10.0, "cm", 2)
    better = q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {"higher_is_better": True}})})
    assert by_id(score(better, {"PhGA": 10}))["PhGA"].higher_is_better
    assert by_id(score(q, {"PhGA": 0}))["PhGA"].value == 0  # 0 is a mark; untouched is missing
    assert by_id(score(q, {}))["PhGA"].value is None


def test_adverse_event_grades_and_relations_at_their_edges():
    # CTCAE grade 3 is severe, 2 is not; WHO-UMC possible (3), probable (4), definite (5) are related, unlikely (2) not.
    answers = {"AE_any": 1, "AE1_description": "a", "AE1_severity": 3, "AE1_relation": 2, "AE1_serious": 0,
               "AE1_another": 1, "AE2_description": "b", "AE2_severity": 2, "AE2_relation": 3, "AE2_serious": 1,
               "AE2_another": 1, "AE3_description": "c", "AE3_severity": "x", "AE3_relation": 5, "AE3_another": 1,
               "AE4_description": "d", "AE4_severity": 4, "AE4_relation": 4, "AE4_another": 1,
               "AE5_description": "e", "AE5_severity": 1, "AE5_relation": 1}
    scales = by_id(score(load("adverse_events"), answers))
    # Five events (the last slot too): severe are grades 3 and 4; related are relations 3, 4 and 5.
    assert (scales["AE_count"].value, scales["AE_severe"].value, scales["AE_related"].value,
            scales["AE_serious"].value) == (5, 2, 3, 1)
    answers["AE3_another"] = 0  # slots after a "no more events" are stale: not counted
    scales = by_id(score(load("adverse_events"), answers))
    assert (scales["AE_count"].value, scales["AE_severe"].value, scales["AE_related"].value) == (3, 1, 2)
    stale = by_id(score(load("adverse_events"), {**answers, "AE1_another": 0}))
    assert stale["AE_count"].value == 1  # AE2 is filled in but hidden behind AE1's "no"
    assert scales["AE_count"].max == 5 and scales["AE_count"].answered == 3 and scales["AE_count"].items == 5
    assert by_id(score(load("adverse_events"), {"AE_any": 1}))["AE_count"].value == 0  # yes, but no event described


def test_adverse_events_not_answered_is_one_missing_scale():
    [s] = score(load("adverse_events"), {})
    assert (s.id, s.value, s.min, s.max, s.higher_is_better, s.answered, s.items, s.missing, s.decimals) == (
        "AE_count", None, 0, 5, False, 0, 1, ["AE_any"], 0)


def test_mmt8_substitution_is_off_when_the_file_does_not_say():
    q = load("mmt8")
    q = q.model_copy(update={"scoring": q.scoring.model_copy(update={"options": {}})})
    answers = mmt_answers(9)
    del answers["MMT_deltoid_R"]
    assert by_id(score(q, answers))["MMT8_total"].value is None
    assert by_id(score(q, mmt_answers(9)))["MMT8_total"].label["en"] == "MMT-8 total (right side)"


def test_fi2_tasks_count_their_one_item():
    answers = fi2_answers(20)
    del answers["FI2_head_lift"]
    scales = by_id(score(load("mfi2"), answers))
    done, missing = scales["FI2_shoulder_flexion_R"], scales["FI2_head_lift"]
    assert (done.answered, done.items, done.missing, done.extra["repetitions"]) == (1, 1, [], 20)
    assert (missing.answered, missing.items, missing.missing, missing.value) == (0, 1, ["FI2_head_lift"], None)
    assert (scales["FI2_total"].answered, scales["FI2_total"].items) == (12, 13)


def test_myoact_labels_and_counts():
    q = load("myoact")
    scales = by_id(score(q, {"MYOACT_cutaneous": 10, "extramuscular_global": 20}))
    assert scales["extramuscular_global"].label == {"sv": "Extramuskulär global aktivitet",
                                                   "en": "Extramuscular global activity"}
    assert scales["MYOACT_cutaneous"].label == q.item("MYOACT_cutaneous").text.model_dump()
    assert (scales["MYOACT_cutaneous"].answered, scales["MYOACT_cutaneous"].items) == (1, 1)
    assert scales["MYOACT_skeletal"].missing == ["MYOACT_skeletal"] and scales["MYOACT_cutaneous"].missing == []


def test_a_one_line_vas_is_named_by_the_instrument_and_a_several_line_one_by_its_questions():
    q = load("patient_global")
    assert by_id(score(q, {"PtGA": 10}))["PtGA"].label == {"sv": "Patientens helhetsbedömning",
                                                           "en": "Patient global activity"}  # short_title
    no_short = q.model_copy(update={"short_title": None})
    assert by_id(score(no_short, {"PtGA": 10}))["PtGA"].label == q.title.model_dump()
    page = q.pages[0]
    second = page.items[0].model_copy(update={"id": "PtGA2"})
    two = q.model_copy(update={"pages": [page.model_copy(update={"items": [page.items[0], second]})]})
    assert by_id(score(two, {"PtGA": 10}))["PtGA"].label == page.items[0].text.model_dump()
