"""Stanford HAQ Disability Index (HAQ-DI) and the HAQ pain scale.

Rules, all from the Stanford scoring conventions:

* Fries JF, Spitz P, Kraines RG, Holman HR. Measurement of patient outcome in arthritis.
  Arthritis Rheum 1980;23:137-45.
* Bruce B, Fries JF. The Stanford Health Assessment Questionnaire: dimensions and practical
  applications. Health Qual Life Outcomes 2003;1:20 ("Scoring the HAQ-DI").
* Stanford University School of Medicine, Division of Immunology & Rheumatology. The Health
  Assessment Questionnaire (HAQ) and the Improved HAQ: administration and scoring
  (ARAMIS, revised June 2009), "Scoring aids or devices or help companion variables".

The questionnaire ``haq.yaml`` stores the 20 items as ``haq<category><letter>`` (0-3),
the aids/devices as two ``multiple`` items (``aids1`` for categories 1-4, ``aids2`` for 5-8),
help from another person as ``help1`` / ``help2``, and the pain line as ``haq_pain`` (0-100 mm).

The aids and help questions have an explicit "none" answer (``none_option`` in ``haq.yaml``:
"Inga hjälpmedel" / "Ingen hjälp"), so "no aids" and "not answered" are two different answers.
An unanswered companion question raises no category (the convention of the ARAMIS
instructions, and of independent implementations such as awell-score, which read a missing
list as empty), but the scale says so: the question is listed in ``missing`` and
``extra["aids_help"]`` reports each one as "none", "unanswered" or the codes ticked.
A stored ``[]`` (pro-app before 'none' was explicit, when an untouched list was kept as empty)
is read as unanswered: it cannot be told from a skipped question.

The HAQ-DI is an exact fraction (sum of category scores / categories answered, e.g. 17/8);
it is shown to three decimals, its real precision with 8 categories (2.125).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import UNMARKED, Scale, as_exact, is_answered, not_computable, scorer, single_item_scale

__all__ = ["CATEGORIES", "HaqCategory", "score_haq_di", "category_scores"]


@dataclass(frozen=True)
class HaqCategory:
    """One HAQ-DI category: its items and the aids/help answers that adjust it."""

    number: int
    name: dict[str, str]
    items: tuple[str, ...]
    aids: tuple[str, ...]  # codes in aids1/aids2 that count for this category
    help: str  # code in help1/help2


# Aid-to-category assignment as in the Stanford (ARAMIS 2009) scoring instructions and
# Bruce & Fries 2003 ("Scoring the HAQ-DI"): dressing devices -> dressing; special or built up chair -> arising;
# built up or special utensils -> eating; cane, walker, crutches, wheelchair -> walking;
# raised toilet seat, bathtub seat, bathtub bar, long-handled appliances in bathroom -> hygiene;
# long-handled appliances for reach -> reach; jar opener -> grip; activities has no device.
# "Other" devices need a person's judgement of the category (ARAMIS: "acceptable to exclude
# the Other option"), so they are reported in ``extra`` but never change a score here.
CATEGORIES: tuple[HaqCategory, ...] = (
    HaqCategory(1, {"en": "Dressing & grooming", "sv": "Påklädning och personlig vård"},
                ("haq1a", "haq1b"), ("dressing_devices",), "dressing"),
    HaqCategory(2, {"en": "Arising", "sv": "Resa sig"},
                ("haq2a", "haq2b"), ("chair",), "arising"),
    HaqCategory(3, {"en": "Eating", "sv": "Äta"},
                ("haq3a", "haq3b", "haq3c"), ("utensils",), "eating"),
    HaqCategory(4, {"en": "Walking", "sv": "Gå"},
                ("haq4a", "haq4b"), ("cane", "walker", "crutches", "wheelchair"), "walking"),
    HaqCategory(5, {"en": "Hygiene", "sv": "Hygien"},
                ("haq5a", "haq5b", "haq5c"),
                ("toilet_seat", "bathtub_seat", "bathtub_bar", "bathroom_appliances"), "hygiene"),
    HaqCategory(6, {"en": "Reach", "sv": "Räckvidd"},
                ("haq6a", "haq6b"), ("reach_appliances",), "reach"),
    HaqCategory(7, {"en": "Grip", "sv": "Greppförmåga"},
                ("haq7a", "haq7b", "haq7c"), ("jar_opener",), "grip"),
    HaqCategory(8, {"en": "Activities", "sv": "Aktiviteter"},
                ("haq8a", "haq8b", "haq8c"), (), "activities"),
)

AID_ITEMS = ("aids1", "aids2")
HELP_ITEMS = ("help1", "help2")
PAIN_ITEM = "haq_pain"
NONE_CODE = "none"  # the none_option code of the aids and help questions in haq.yaml


def _codes(answers: dict[str, Any], ids: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for i in ids:
        value = answers.get(i)
        if is_answered(value):
            out.update(str(v) for v in (value if isinstance(value, list) else [value]))
    return out


def category_scores(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Per category: the highest item score, and the score after the aids/help rule.

    Bruce & Fries 2003 and ARAMIS 2009: the category score is the highest score of its
    items; when aids/devices and/or help from another person are indicated for the
    category, a score of 0 or 1 is raised to 2 (a 3 stays 3). A category with no answered
    item has no score (None), whatever aids are checked.
    """
    aids = _codes(answers, AID_ITEMS)
    helped = _codes(answers, HELP_ITEMS)
    out = []
    for cat in CATEGORIES:
        values = [int(answers[i]) for i in cat.items if is_answered(answers.get(i))]
        raw = max(values) if values else None
        adjusted_by = sorted(aids.intersection(cat.aids)) + (["help"] if cat.help in helped else [])
        adjusted = max(raw, 2) if raw is not None and adjusted_by else raw
        out.append(
            {
                "category": cat.number,
                "name": cat.name,
                "raw": raw,
                "score": adjusted,
                "aids_or_help": adjusted_by,
                "answered_items": len(values),
            }
        )
    return out


def _mean_or_reason(scores: list[int | None], need: int) -> tuple[Fraction | None, dict[str, str] | None]:
    done = [s for s in scores if s is not None]
    if len(done) < need:
        return None, not_computable(
            f"{len(done)} of 8 categories answered; the HAQ-DI needs at least {need}.",
            f"{len(done)} av 8 kategorier besvarade; HAQ-DI kräver minst {need}.",
        )
    return Fraction(sum(done), len(done)), None


def _companion_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """Each aids/help question: "unanswered", "none" (only the explicit none answer) or the codes ticked."""
    out: dict[str, Any] = {}
    for item in (*AID_ITEMS, *HELP_ITEMS):
        codes = _codes(answers, (item,))
        out[item] = "unanswered" if not codes else "none" if codes <= {NONE_CODE} else sorted(codes - {NONE_CODE})
    return out


@scorer("haq_di")
def score_haq_di(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """HAQ-DI with and without the aids/help adjustment, and the HAQ pain VAS.

    * HAQ-DI (0-3): sum of the category scores divided by the number of categories
      answered; not computed when fewer than 6 of the 8 categories have an answer
      (Bruce & Fries 2003; ARAMIS 2009). ``scoring.options.min_categories`` may raise
      or lower the 6 for a study protocol.
    * HAQ-DI without aids/help: the same mean from the unadjusted category maxima, as
      reported in studies that omit the companion variables (Bruce & Fries 2003).
    * Pain (0-100 mm): the HAQ pain VAS as marked; ``extra.haq_0_3`` is the 0-3 form
      (mm x 0.03), the conversion of a 100 mm line in the ARAMIS instructions.
    """
    missing_ids = [i for i in [*(i for c in CATEGORIES for i in c.items), PAIN_ITEM] if i not in questionnaire.answer_ids()]
    if missing_ids:
        raise ValueError(f"questionnaire '{questionnaire.id}' lacks HAQ items: {', '.join(missing_ids)}")
    need = int(questionnaire.scoring.options.get("min_categories", 6))
    cats = category_scores(answers)
    n_answered = sum(1 for c in cats if c["raw"] is not None)
    unanswered_items = [i for c in CATEGORIES for i in c.items if not is_answered(answers.get(i))]

    di, di_reason = _mean_or_reason([c["score"] for c in cats], need)
    raw_di, raw_reason = _mean_or_reason([c["raw"] for c in cats], need)
    other_aids = sorted(
        f"{item}: {answers.get(item + '_other') or 'other'}"
        for item in AID_ITEMS
        if "other" in _codes(answers, (item,))
    )
    companions = _companion_answers(answers)
    unanswered_companions = [i for i, v in companions.items() if v == "unanswered" and i in questionnaire.answer_ids()]
    common = dict(min=0.0, max=3.0, higher_is_better=False, answered=n_answered, items=8, decimals=3)
    scales = [
        Scale(
            id="HAQ_DI",
            label={"en": "HAQ Disability Index", "sv": "HAQ funktionsindex"},
            value=di,
            missing=unanswered_items + unanswered_companions,
            reason=di_reason,
            extra={
                "categories": cats,
                "without_aids_help": None if raw_di is None else float(raw_di),
                "other_aids_not_scored": other_aids,
                "aids_help": companions,
            },
            **common,
        ),
        Scale(
            id="HAQ_DI_no_aids",
            label={
                "en": "HAQ Disability Index without aids/help adjustment",
                "sv": "HAQ funktionsindex utan justering för hjälpmedel/hjälp",
            },
            value=raw_di,
            missing=unanswered_items,
            reason=raw_reason,
            **common,
        ),
    ]
    pain = answers.get(PAIN_ITEM)
    pain_mm = None if not is_answered(pain) else as_exact(pain)
    scales.append(single_item_scale(
        "HAQ_pain", {"en": "HAQ pain (VAS)", "sv": "HAQ smärta (VAS)"}, pain_mm, PAIN_ITEM,
        min=0.0, max=100.0, higher_is_better=False, reason=UNMARKED, unit="mm", decimals=1,
        extra=None if pain_mm is None else {"haq_0_3": float(pain_mm * Fraction(3, 100))},
    ))
    return scales
