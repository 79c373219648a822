"""Every shipped scale's range, direction, unit and shown decimals, from its published definition.

Direction decides what "improved" means in summaries and criteria; the range is what the
ACR/EULAR change is a percentage of. Sources: HAQ-DI 0-3, lower better, pain VAS 0-100 mm
(Bruce & Fries 2003; ARAMIS 2009); SF-36 scales 0-100, higher better (Ware 1993; RAND);
MAP 1-7, lower better (Alexanderson 2002); FSS mean 1-7, higher = more fatigue (Krupp 1989);
global activity VAS 0-100 mm, 0 = no activity (IMACS, Miller 2001); MMT-8 0-80 / 0-150,
higher = stronger (Rider 2010); MYOACT VAS 0-100 mm (Isenberg 2004); FI-2 repetitions as
% of the task maximum, higher better (Alexanderson 2006); serum enzymes without an upper bound.
"""
from __future__ import annotations

import pytest

from pro_app.scoring import score
from pro_app.scoring.mfi2 import task_items
from pro_app.scoring.mmt8 import MUSCLE_GROUPS

# (min, max, higher_is_better, decimals, unit); max None: no upper bound.
EXPECTED = {
    "haq": {"HAQ_DI": (0, 3, False, 3, None), "HAQ_DI_no_aids": (0, 3, False, 3, None),
            "HAQ_pain": (0, 100, False, 1, "mm")},
    "map": {**{d: (1, 7, False, 1, None) for d in ("movement", "moving_around", "personal_care", "domestic")},
            **{f"map{i}": (1, 7, False, 1, None) for i in (28, 29, 30, 31)}, "MAP_total": (1, 7, False, 1, None)},
    "fss": {"FSS": (1, 7, False, 2, None)},
    "patient_global": {"PtGA": (0, 100, False, 1, "mm")},
    "physician_global": {"PhGA": (0, 100, False, 1, "mm")},
    "mmt8": {"MMT8_total": (0, 80, True, 0, None), "MMT8_bilateral": (0, 150, True, 0, None)},
    "myoact": {**{f"MYOACT_{s}": (0, 100, False, 1, "mm") for s in ("constitutional", "cutaneous", "skeletal",
                                                                     "gastrointestinal", "pulmonary", "cardiac",
                                                                     "muscle")},
               "extramuscular_global": (0, 100, False, 1, "mm"), "MYOACT_extramuscular": (0, 1, False, 3, None)},
    "enzymes": {"CK": (0, None, False, 2, "µkat/L"), "CK_xULN": (0, None, False, 2, None),
                "enzyme_most_abnormal": (0, None, False, 2, None)},
    "mfi2": {**{i: (0, 100, True, 1, "%") for i in task_items(["R", "L"])}, "FI2_total": (0, 100, True, 1, "%")},
    "adverse_events": {s: (0, 5, False, 0, None) for s in ("AE_count", "AE_serious", "AE_severe", "AE_related")},
}
FULL = {
    "haq": {**{f"haq{c}{x}": 1 for c, xs in zip(range(1, 9), ["ab", "ab", "abc", "ab", "abc", "ab", "abc", "abc"])
               for x in xs}, "haq_pain": 40},
    "map": {f"map{i}": 3 for i in range(1, 32)},
    "fss": {f"fss{i}": 4 for i in range(1, 10)},
    "patient_global": {"PtGA": 40}, "physician_global": {"PhGA": 40},
    "mmt8": {"MMT_neck_flexors": 8, **{f"MMT_{g}_{s}": 8 for g in MUSCLE_GROUPS for s in "RL"}},
    "myoact": {f"MYOACT_{s}": 20 for s in ("constitutional", "cutaneous", "skeletal", "gastrointestinal", "pulmonary",
                                          "cardiac", "muscle")} | {"extramuscular_global": 20},
    "enzymes": {"CK": 10, "CK_unit": "ukat_L", "CK_ULN": 3.5},
    "mfi2": {i: 30 for i in task_items(["R", "L"])},
    "adverse_events": {"AE_any": 0},
}


@pytest.mark.parametrize("qid", sorted(EXPECTED))
def test_every_scale_has_its_published_range_direction_and_unit(questionnaires, qid):
    scales = {s.id: s for s in score(questionnaires[qid], FULL[qid])}
    for sid, (low, high, better_high, decimals, unit) in EXPECTED[qid].items():
        s = scales[sid]
        assert (s.min, s.max, s.higher_is_better, s.decimals, s.unit) == (low, high, better_high, decimals, unit), sid
        assert s.value is not None, sid
