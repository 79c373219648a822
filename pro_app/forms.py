"""A questionnaire page -> a WTForms form, and the posted form -> stored answers.

``FIELD_BUILDERS`` maps an item type to the function that builds its fields: a new
item type is one entry there and one macro in ``templates/items.html``.
Field names are ``a__<answer id>``; VAS metadata travels in ``m__<answer id>__<key>``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, RadioField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice

from .answers import normalise_value, parse_number
from .config import clinic_setting
from .definitions import (
    YESNO_OPTIONS,
    DateItem,
    FreeText,
    MultipleChoice,
    Numeric,
    Page,
    Questionnaire,
    RatingScale,
    SingleChoice,
    VisualAnalogueScale,
)

__all__ = ["FIELD_BUILDERS", "page_form", "read_answers", "read_page_post", "PagePost", "field_name"]

VAS_META = ("touched", "line_px", "px_per_mm", "calibrated")
# What a real screen can report: the line's length in CSS px, and the calibration in px per mm.
VAS_META_RANGES = {"line_px": (1.0, 10000.0), "px_per_mm": (0.5, 100.0)}


def field_name(answer_id: str) -> str:
    return f"a__{answer_id}"


def meta_name(answer_id: str, key: str) -> str:
    return f"m__{answer_id}__{key}"


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form: Any) -> None:  # codes are checked in read_answers
        pass


class ChoiceField(RadioField):
    def pre_validate(self, form: Any) -> None:  # a missing answer is allowed; codes checked in read_answers
        pass


def _choices(options: list[Any], lang: str) -> list[SelectChoice]:
    return [SelectChoice(str(o.code), o.text.get(lang)) for o in options]


def _choice_field(item: Any, q: Questionnaire, lang: str) -> dict[str, Field]:
    return {field_name(item.id): ChoiceField(choices=_choices(item.option_list(q), lang))}


def _multiple_field(item: Any, q: Questionnaire, lang: str) -> dict[str, Field]:
    return {field_name(item.id): CheckboxesField(choices=_choices(item.option_list(q), lang))}


def _yesno_field(item: Any, q: Questionnaire, lang: str) -> dict[str, Field]:
    return {field_name(item.id): ChoiceField(choices=_choices(YESNO_OPTIONS, lang))}


def _nrs_field(item: RatingScale, q: Questionnaire, lang: str) -> dict[str, Field]:
    return {field_name(item.id): ChoiceField(choices=[SelectChoice(str(n), str(n)) for n in range(item.min, item.max + 1)])}


def _text_field(item: Any, q: Questionnaire, lang: str) -> dict[str, Field]:
    if isinstance(item, FreeText) and item.multiline:
        return {field_name(item.id): TextAreaField()}
    return {field_name(item.id): StringField()}


def _vas_fields(item: VisualAnalogueScale, q: Questionnaire, lang: str) -> dict[str, Field]:
    fields: dict[str, Field] = {field_name(item.id): HiddenField()}
    for key in VAS_META:
        fields[meta_name(item.id, key)] = HiddenField()
    return fields


def _grid_fields(item: Any, q: Questionnaire, lang: str) -> dict[str, Field]:
    choices = _choices(item.option_list(q), lang)
    return {field_name(row.id): ChoiceField(choices=choices) for row in item.rows}


FIELD_BUILDERS: dict[str, Callable[[Any, Questionnaire, str], dict[str, Field]]] = {
    "single": _choice_field,
    "multiple": _multiple_field,
    "yesno": _yesno_field,
    "numeric": _text_field,
    "nrs": _nrs_field,
    "vas": _vas_fields,
    "text": _text_field,
    "date": _text_field,
    "grid": _grid_fields,
}


class PageForm(FlaskForm):
    action = HiddenField()


def page_form(q: Questionnaire, page: Page, answers: dict[str, Any], lang: str,
              item_meta: dict[str, Any] | None = None, formdata: Any = None) -> FlaskForm:
    """A form for every item of the page, filled with the stored answers unless ``formdata`` is given."""

    class Form(PageForm):
        pass

    for item in page.items:
        for name, field in FIELD_BUILDERS[item.type](item, q, lang).items():
            setattr(Form, name, field)

    data: dict[str, Any] = {}
    for item in page.items:
        if isinstance(item, SingleChoice) and item.default_from and answers.get(item.id) is None:
            preset = clinic_setting(item.default_from)
            if preset is not None:
                data[field_name(item.id)] = preset
        for aid in item.answer_ids():
            value = answers.get(aid)
            if value is None:
                continue
            data[field_name(aid)] = [str(v) for v in value] if isinstance(value, list) else _display(item, value, lang)
        if isinstance(item, VisualAnalogueScale):
            meta = (item_meta or {}).get(item.id) or {}
            for key in VAS_META:
                if key in meta:
                    data[meta_name(item.id, key)] = str(meta[key])
    kwargs: dict[str, Any] = {"data": data}
    if formdata is not None:
        kwargs["formdata"] = formdata
    return Form(**kwargs)


def _display(item: Any, value: Any, lang: str) -> str:
    if isinstance(item, Numeric) and lang == "sv":
        return str(value).replace(".", ",")
    return str(value)


def _message(item: Any, error: str) -> str:
    """The user's-language message for a value the patient or nurse must correct."""
    if isinstance(item, Numeric):
        unit = f" {item.unit}" if item.unit else ""
        if item.decimals:
            return _("Enter a number from %(min)s to %(max)s%(unit)s, with at most %(d)s decimal(s).",
                     min=f"{item.min:g}", max=f"{item.max:g}", unit=unit, d=item.decimals)
        return _("Enter a whole number from %(min)s to %(max)s%(unit)s.", min=f"{item.min:g}", max=f"{item.max:g}", unit=unit)
    if isinstance(item, DateItem):
        return _("Enter a date as YYYY-MM-DD.")
    if isinstance(item, FreeText):
        return _("The text is too long (at most %(n)s characters).", n=item.max_length)
    if isinstance(item, MultipleChoice) and item.none_option is not None and "cannot be combined" in error:
        locale = get_locale()
        return _("“%(none)s” cannot be combined with other answers.",
                 none=item.none_option.text.get(locale.language if locale else "sv"))
    return _("Choose one of the options.")


def read_answers(q: Questionnaire, page: Page, form: FlaskForm) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Posted values of every item on the page -> (answers, item metadata, errors by answer id).

    An item left empty is returned as ``None`` so that saving clears an earlier answer.
    """
    answers: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in page.items:
        for aid in item.answer_ids():
            raw = form[field_name(aid)].data
            if isinstance(raw, str):
                raw = raw.strip()
            if isinstance(item, Numeric) and isinstance(raw, str) and raw:
                raw = raw.replace(",", ".")
                if "." in raw and len(raw.split(".")[1]) > item.decimals:
                    errors[aid] = _message(item, "decimals")
                    continue
            try:
                # Nothing ticked is unanswered (None clears an earlier answer); "none of these" is its own option.
                answers[aid] = normalise_value(q, aid, None if raw in ("", []) else raw)
            except ValueError as exc:
                errors[aid] = _message(item, str(exc))
        if isinstance(item, VisualAnalogueScale):
            meta[item.id] = _vas_meta(item, form, answers.get(item.id))
    return answers, meta, errors


def _vas_meta(item: VisualAnalogueScale, form: FlaskForm, value: Any) -> dict[str, Any]:
    def number(key: str) -> float | None:
        # Strictly parsed ("nan", "1e308", "1_0" are not numbers here) and within what a screen can report.
        try:
            value = parse_number(form[meta_name(item.id, key)].data or "")
        except ValueError:
            return None
        lo, hi = VAS_META_RANGES[key]
        return round(value, 4) if lo <= value <= hi else None

    return {
        "touched": value is not None and form[meta_name(item.id, "touched")].data == "1",
        "line_px": number("line_px"),
        "px_per_mm": number("px_per_mm"),
        "calibrated": form[meta_name(item.id, "calibrated")].data == "1",
    }


@dataclass
class PagePost:
    """What one posted page changes in a response."""

    update: dict[str, Any]  # answers to store (None clears one)
    meta: dict[str, Any]  # item metadata (the VAS line) of the items shown
    errors: dict[str, str]  # answer id -> message in the user's language
    merged: dict[str, Any]  # the response's answers once the update is stored
    appeared: set[str]  # answer ids that skip logic now shows on this page but the page did not


def read_page_post(q: Questionnaire, page: Page, answers: dict[str, Any], form: FlaskForm, shown: set[str]) -> PagePost:
    """Take only the items the person saw (``shown``).

    An answer that the new answers hide is kept, not cleared: it counts nowhere while hidden
    (``Questionnaire.shown_answers``), and comes back as it was if the person shows its item again.
    """
    posted, meta, errors = read_answers(q, page, form)
    update = {k: v for k, v in posted.items() if k in shown and k not in errors}
    merged = {**answers, **update}
    visible_now = {aid for item in q.visible_items(page, merged) for aid in item.answer_ids()}
    return PagePost(update, {k: v for k, v in meta.items() if k in shown}, errors, merged, visible_now - shown)
