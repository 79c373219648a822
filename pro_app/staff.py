"""Blueprint: nurses and physicians: patients, study visits, tablet hand-off, clinician forms,
scored summaries (screen, print and PDF), device calibration, and exports for administrators."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import (Blueprint, Response, abort, flash, g, redirect, render_template, request, stream_with_context,
                   url_for)
from babel import Locale, UnknownLocaleError
from flask_babel import format_date, format_time, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from werkzeug.datastructures import MultiDict
from wtforms.validators import DataRequired, Length, Optional, Regexp

from .auth import SUMMARY_ROLES, staff_required
from .catalog import catalog
from .definitions import Page, Questionnaire
from .forms import page_form, read_page_post
from .patient import hand_over
from .storage import StaleWrite, Stamp
from .studies import enroll, missing_visits, studies, study_of
from .web import current_language

__all__ = ["bp", "VisitRow", "visit_rows", "visit_to_start"]

bp = Blueprint("staff", __name__, url_prefix="/staff")

ROLE_NAMES = {"nurse": _l("nurse"), "physician": _l("physician"), "admin": _l("administrator")}


class PatientForm(FlaskForm):
    study_code = StringField(
        _l("Study code"),
        validators=[DataRequired(), Length(max=40),
                    Regexp(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", message=_l("Letters, digits, - and _ only."))],
    )


class EnrollForm(FlaskForm):
    study = SelectField(_l("Study"), validators=[Optional()])
    baseline = DateField(_l("Baseline date"), validators=[Optional()], default=dt.date.today)


class RegisterForm(PatientForm, EnrollForm):
    pass


class VisitForm(FlaskForm):
    key = StringField(_l("Visit"), validators=[DataRequired(), Length(max=40)])
    questionnaires = SelectMultipleField(
        _l("Questionnaires"), widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput()
    )
    clinician_forms = SelectMultipleField(
        _l("Clinician forms"), widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput()
    )


class HandoffForm(FlaskForm):
    language = RadioField(_l("Language on the tablet"), choices=[SelectChoice("sv", "Svenska"), SelectChoice("en", "English")], default="sv")
    confirmed = StringField()  # "1" once the nurse has confirmed starting a visit that is done or not yet due


@dataclass
class VisitRow:
    """One visit as the patient page shows it: where it stands today and whether its tablet part is done."""

    visit: dict[str, Any]
    state: str  # done, due, overdue, missed or not_yet_due (pro_app.report.visit_state)
    due: dt.date | None
    patient_done: bool  # every patient questionnaire completed: the tablet would only say thank you

    @property
    def needs_confirmation(self) -> bool:
        """Starting it on the tablet is probably a mistake: its questionnaires are done, or it is not due yet."""
        return self.patient_done or self.state in ("not_yet_due", "done", "missed")


def visit_rows(visits: list[dict[str, Any]], responses: list[dict[str, Any]], today: dt.date) -> list[VisitRow]:
    from .report import visit_state

    rows = []
    for visit in visits:
        completed = {r["questionnaire"] for r in responses if r["visit"] == visit["id"] and r["status"] == "completed"}
        forms = list(visit.get("questionnaires") or []) + list(visit.get("clinician_forms") or [])
        due = dt.date.fromisoformat(visit["due"]) if visit.get("due") else None
        state = visit_state(today, due, visit.get("window_days"), sum(f in completed for f in forms), len(forms))
        patient_forms = list(visit.get("questionnaires") or [])
        rows.append(VisitRow(visit, state, due, bool(patient_forms) and all(q in completed for q in patient_forms)))
    return rows


def visit_to_start(rows: list[VisitRow], today: dt.date) -> VisitRow | None:
    """The visit to start on the tablet today: the one due now (the nearest, if several), else the next one due."""
    with_questionnaires = [r for r in rows if r.visit.get("questionnaires") and not r.patient_done]
    now = [r for r in with_questionnaires if r.state in ("due", "overdue")]
    if now:
        return min(now, key=lambda r: (abs((r.due - today).days) if r.due else 0, r.due or today))
    later = [r for r in with_questionnaires if r.state == "not_yet_due"]
    return min(later, key=lambda r: r.due or today) if later else None


def _study_choices(with_none: bool) -> list[SelectChoice]:
    lang = current_language()
    choices = [SelectChoice("", _("No study"))] if with_none else []
    return choices + [SelectChoice(s.id, s.title.get(lang)) for s in studies().values()]


def _enroll(patient_id: str, study_id: str, baseline: dt.date | None) -> None:
    study = studies().get(study_id)
    if study is None:
        return
    created = enroll(catalog().store, patient_id, study, baseline or dt.date.today(), g.actor)
    flash(_("Enrolled in %(study)s: %(n)s visit(s) planned.", study=study.title.get(current_language()), n=len(created)), "success")


@bp.route("/", methods=["GET", "POST"])
@staff_required()
def dashboard():
    form = RegisterForm()
    form.study.choices = _study_choices(with_none=True)
    store = catalog().store
    if form.validate_on_submit():
        try:
            patient = store.create_patient(form.study_code.data, g.actor, study=form.study.data or None)
        except ValueError:
            form.study_code.errors = [_("This study code is already registered.")]
        else:
            flash(_("Patient %(code)s registered.", code=patient["study_code"]), "success")
            if form.study.data:
                _enroll(patient["id"], form.study.data, form.baseline.data)
            return redirect(url_for("staff.patient", patient_id=patient["id"]))
    return _patient_list(form, "", _page_number(request.args.get("page")))


PATIENTS_PER_PAGE = 50


def _page_number(value: Any) -> int:
    try:
        return max(1, int(str(value)))
    except ValueError:
        return 1


def _patient_list(form: FlaskForm, search: str, page: int):
    """One page of the patient list (of those whose study code contains ``search``): the store reads only it."""
    found = catalog().store.patients_page(search, (page - 1) * PATIENTS_PER_PAGE, PATIENTS_PER_PAGE)
    pages = max(1, -(-found.total // PATIENTS_PER_PAGE))
    if page > pages:
        page = pages
        found = catalog().store.patients_page(search, (page - 1) * PATIENTS_PER_PAGE, PATIENTS_PER_PAGE)
    first = (page - 1) * PATIENTS_PER_PAGE + 1
    lang = current_language()
    study_titles = {s.id: s.title.get(lang) for s in studies().values()}  # a study's name, never its id
    return render_template("staff/dashboard.html", form=form, patients=found.patients, total=found.total,
                           study_titles=study_titles,
                           search=search, search_form=SearchForm(formdata=None, q=search), page=page, pages=pages,
                           first=first, last=first + len(found.patients) - 1)


class SearchForm(FlaskForm):
    q = StringField(_l("Find by study code"), validators=[Optional(), Length(max=40)])


@bp.post("/patients/search")
@staff_required()
def patient_search():
    """The patient list narrowed by study code. Posted, so the code never stands in a URL or a server log."""
    search = SearchForm()
    term = (search.q.data or "").strip() if search.validate_on_submit() else ""
    form = RegisterForm(formdata=None)
    form.study.choices = _study_choices(with_none=True)
    return _patient_list(form, term, _page_number(request.form.get("page")))


@bp.route("/patients/<patient_id>", methods=["GET", "POST"])
@staff_required()
def patient(patient_id: str):
    cat = catalog()
    store = cat.store
    record = store.get_patient(patient_id)
    lang = current_language()
    form = VisitForm()
    form.questionnaires.choices = [SelectChoice(q.id, q.title.get(lang)) for q in cat.for_audience("patient")]
    form.clinician_forms.choices = [SelectChoice(q.id, q.title.get(lang)) for q in cat.for_audience("clinician")]
    if form.validate_on_submit():
        try:
            store.add_visit(patient_id, g.actor, key=form.key.data.strip(), label={"sv": form.key.data, "en": form.key.data},
                            questionnaires=form.questionnaires.data, clinician_forms=form.clinician_forms.data)
        except ValueError:
            form.key.errors = [_("This visit already exists.")]
        else:
            return redirect(url_for("staff.patient", patient_id=patient_id))
    visits = store.list_visits(patient_id)
    responses = store.list_responses(patient_id)
    enroll_form = None
    enrolled = studies().get(study_of(visits) or "")
    # Shown until every planned visit exists: an enrolment cut short can be finished.
    if studies() and (enrolled is None or missing_visits(enrolled, visits)):
        enroll_form = EnrollForm(formdata=None, study=enrolled.id if enrolled else None)
        enroll_form.study.choices = _study_choices(with_none=False)
    today = dt.date.today()
    rows = visit_rows(visits, responses, today)
    return render_template("staff/patient.html", patient=record, visits=visits, rows=rows, responses=responses,
                           form=form, handoff=HandoffForm(), catalog=cat, enroll_form=enroll_form,
                           study=study_of(visits), studies=studies(), today=today.isoformat(),
                           next_visit=visit_to_start(rows, today))


@bp.post("/patients/<patient_id>/enroll")
@staff_required()
def enroll_patient(patient_id: str):
    catalog().store.get_patient(patient_id)
    form = EnrollForm()
    form.study.choices = _study_choices(with_none=False)
    if form.validate_on_submit() and form.study.data:
        _enroll(patient_id, form.study.data, form.baseline.data)
    else:
        flash(_("Choose a study and a baseline date."), "error")
    return redirect(url_for("staff.patient", patient_id=patient_id))


@bp.post("/patients/<patient_id>/visits/<visit_id>/tablet")
@staff_required()
def handoff(patient_id: str, visit_id: str):
    store = catalog().store
    store.get_visit(patient_id, visit_id)
    form = HandoffForm()
    if not form.validate_on_submit():
        return redirect(url_for("staff.patient", patient_id=patient_id))
    today = dt.date.today()
    rows = visit_rows(store.list_visits(patient_id), store.list_responses(patient_id), today)
    row = next(r for r in rows if r.visit["id"] == visit_id)
    if row.needs_confirmation and form.confirmed.data != "1":
        # A visit already filled in, or months away: easy to press by mistake. Ask first.
        suggested = visit_to_start(rows, today)
        if suggested is row or (suggested is not None and suggested.needs_confirmation):
            suggested = None  # offer instead only a visit that is due now
        return render_template("staff/confirm_handoff.html", patient=store.get_patient(patient_id), row=row,
                               form=form, suggested=suggested,
                               days=(row.due - today).days if row.due else None)
    user = g.user
    store.audit(g.actor, "handoff", "tablet", visit_id, patient_id)
    hand_over(patient_id, visit_id, user, form.language.data)
    return redirect(url_for("patient.home"))


@bp.app_template_filter("role_name")
def role_name(role: str | None) -> str:
    """A staff role as the reader says it: 'sjuksköterska', never 'nurse' on a Swedish page."""
    return str(ROLE_NAMES.get(role or "", role or ""))


@bp.app_template_filter("study_title")
def study_title(study_id: str | None) -> str:
    """A study by its title in the reader's language, never its id."""
    study = studies().get(study_id or "")
    return study.title.get(current_language()) if study else ""


@bp.get("/calibrate")
@staff_required()
def calibrate():
    """Match a line on screen to 100 mm on a ruler; the device keeps the result."""
    return render_template("staff/calibrate.html")


# ------------------------------------------------------------------ clinician forms


def _clinician_response(patient_id: str, visit_id: str, qid: str) -> tuple[dict[str, Any], Questionnaire]:
    """The visit's response to one of its clinician forms: only clinician forms, only staff."""
    cat = catalog()
    visit = cat.store.get_visit(patient_id, visit_id)
    current = cat.get(qid)
    if current is None or current.audience != "clinician" or qid not in (visit.get("clinician_forms") or []):
        abort(404)
    response = cat.store.start_response(patient_id, visit_id, current, g.actor, current_language())
    return response, cat.for_response(response) or current


def _sections(q: Questionnaire, answers: dict[str, Any], n: int | None) -> list[tuple[Page, list[Any]]]:
    pages = q.visible_pages(answers)
    chosen = pages if n is None else [pages[n]]
    return [(page, q.visible_items(page, answers)) for page in chosen]


def _one_form_page(sections: list[tuple[Page, list[Any]]]) -> Page:
    # All pages on one screen are one WTForms form: a page holding every item of the shown pages.
    if len(sections) == 1:
        return sections[0][0]
    return Page(id="all", items=[item for page, _items in sections for item in page.items])


@bp.get("/patients/<patient_id>/visits/<visit_id>/forms/<qid>")
@staff_required("nurse", "physician")
def clinician_form_start(patient_id: str, visit_id: str, qid: str):
    response, q = _clinician_response(patient_id, visit_id, qid)
    pages = q.visible_pages(response["answers"])
    n = min(int(response.get("page") or 0), max(len(pages) - 1, 0))
    return redirect(url_for("staff.clinician_form", patient_id=patient_id, visit_id=visit_id, qid=qid, n=n))


@bp.route("/patients/<patient_id>/visits/<visit_id>/forms/<qid>/p/<int:n>", methods=["GET", "POST"])
@bp.route("/patients/<patient_id>/visits/<visit_id>/forms/<qid>/all", methods=["GET", "POST"], defaults={"n": None})
@staff_required("nurse", "physician")
def clinician_form(patient_id: str, visit_id: str, qid: str, n: int | None):
    """Fill in a clinician form one page at a time (``n``) or all pages on one screen."""
    store = catalog().store
    response, q = _clinician_response(patient_id, visit_id, qid)
    answers = dict(response["answers"])
    pages = q.visible_pages(answers)
    if n is not None and n >= len(pages):
        return redirect(url_for("staff.clinician_form", patient_id=patient_id, visit_id=visit_id, qid=qid, n=len(pages) - 1))
    lang = current_language()
    sections = _sections(q, answers, n)
    page_def = _one_form_page(sections)
    here = {"patient_id": patient_id, "visit_id": visit_id, "qid": qid, "n": n}

    def show(form, errors, status=200, notice=None, current=None):
        current = current if current is not None else answers
        return render_template(
            "staff/clinician_form.html", q=q, response=response, sections=_sections(q, current, n), form=form,
            errors=errors, n=n, pages=len(q.visible_pages(current)), here=here, notice=notice,
            patient=store.get_patient(patient_id), visit=store.get_visit(patient_id, visit_id),
        ), status

    if request.method == "GET":
        draft = store.take_draft(g.user, request.path)
        if draft:  # posted after the session had expired, kept until this login
            return show(page_form(q, page_def, answers, lang, formdata=MultiDict(draft)), {}, notice=_(
                "What you entered before you were logged out is back on the form. Check it and save."))
        return show(page_form(q, page_def, answers, lang, response.get("item_meta")), {})

    form = page_form(q, page_def, answers, lang, formdata=request.form)
    shown = set(request.form.get("shown", "").split())
    post = read_page_post(q, page_def, answers, form, shown)
    errors = post.errors
    try:
        stamp = Stamp(int(request.form.get("rev", "")), int(request.form.get("seq", "")))
    except ValueError:
        stamp = Stamp(-1, 0)
    try:
        saved = store.save_answers(patient_id, response["id"], g.actor, post.update, post.meta, page=n,
                                   language=lang, allow_completed=True, stamp=stamp)
    except StaleWrite:  # someone saved this form since it was opened: show theirs, keep nothing blindly
        return show(page_form(q, page_def, answers, lang, response.get("item_meta")), {}, status=409, notice=_(
            "This form was saved by someone else since you opened it. Their answers are shown: "
            "check them and enter your changes again."))
    response = saved
    answers = dict(saved["answers"])
    action = request.form.get("action", "save")
    if errors:
        return show(form, errors, status=422, current=answers)
    page_ids = {aid for _page, items in _sections(q, answers, n) for item in items for aid in item.answer_ids()}
    if action in ("next", "complete") and page_ids - shown:
        fresh = page_form(q, _one_form_page(_sections(q, answers, n)), answers, lang, saved.get("item_meta"))
        return show(fresh, {}, notice=_("A follow-up question has appeared below."), current=answers)
    new_pages = q.visible_pages(answers)
    if action == "back" and n:
        return redirect(url_for("staff.clinician_form", **{**here, "n": n - 1}))
    if action == "next" and n is not None and n + 1 < len(new_pages):
        store.save_answers(patient_id, response["id"], g.actor, {}, page=n + 1, allow_completed=True)
        return redirect(url_for("staff.clinician_form", **{**here, "n": n + 1}))
    if action == "complete":
        required = [aid for page in new_pages for item in q.visible_items(page, answers) if item.required
                    for aid in item.answer_ids() if answers.get(aid) in (None, "", [])]
        if required:
            flash(_("Please answer the questions marked as required: %(items)s.",
                    items=", ".join(q.answer_text(a, lang) for a in required)), "error")
            return show(page_form(q, page_def, answers, lang, saved.get("item_meta")), {}, status=422, current=answers)
        visible = set(q.visible_answer_ids(answers))
        store.complete_response(patient_id, response["id"], g.actor, drop=[a for a in answers if a not in visible])
        flash(_("%(title)s is saved and complete.", title=q.title.get(lang)), "success")
        return redirect(url_for("staff.patient", patient_id=patient_id))
    flash(_("Saved."), "success")
    return redirect(url_for("staff.clinician_form", **here))


# ------------------------------------------------------------------ summaries


def _summary(patient_id: str, visit_id: str):
    from .summary import visit_summary

    return visit_summary(catalog(), patient_id, visit_id, current_language(), studies())


@bp.get("/patients/<patient_id>/visits/<visit_id>/summary")
@staff_required(*SUMMARY_ROLES)
def summary(patient_id: str, visit_id: str):
    """On screen the full report follows the one-page summary; printing it prints one page unless ?full=1."""
    return render_template("staff/summary.html", s=_summary(patient_id, visit_id), patient_id=patient_id,
                           visit_id=visit_id, printed=dt.datetime.now(dt.timezone.utc), full=True,
                           print_full=request.args.get("full") == "1")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_css() -> str:
    """@page rules for the PDF: the running header and footer, and page numbers in the reader's language."""
    marker_page, marker_pages = "\x00page\x00", "\x00pages\x00"
    font = '"DejaVu Sans", "Liberation Sans", Arial, sans-serif'  # the document's own: one family, footer too
    text = _("Page %(page)s of %(pages)s", page=marker_page, pages=marker_pages)
    parts = []
    for chunk in text.split("\x00"):
        if chunk == "page":
            parts.append("counter(page)")
        elif chunk == "pages":
            parts.append("counter(pages)")
        elif chunk:
            parts.append(_css_string(chunk))
    return (
        # !important: print.css's @page (for the browser's print, without running header) must not win here.
        f"@page {{ size: A4; margin: 21mm 14mm 15mm 14mm !important; font-family: {font};"
        " @top-left { content: element(doc-header); width: 100%; vertical-align: bottom; }"
        " @bottom-left { content: element(doc-footer); width: 78%; vertical-align: top; }"
        f" @bottom-right {{ content: {' '.join(parts)}; font-family: {font}; font-size: 7pt; color: #444;"
        " vertical-align: top; } }"
        " .doc-header { position: running(doc-header); }"
        " .doc-footer { position: running(doc-footer); }"
    )


@bp.get("/patients/<patient_id>/visits/<visit_id>/summary.pdf")
@staff_required(*SUMMARY_ROLES)
def summary_pdf(patient_id: str, visit_id: str):
    import re

    from .pdf import render_pdf

    s = _summary(patient_id, visit_id)
    full = request.args.get("full") == "1"  # the one-page summary, or with the full report after it
    html = render_template("print/summary.html", s=s, printed=dt.datetime.now(dt.timezone.utc), full=full)
    pdf = render_pdf(html, _page_css())
    catalog().store.audit(g.actor, "print", "summary", visit_id, patient_id, format="pdf-full" if full else "pdf")
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{s.study_code}-{s.visit_key}" + ("-full" if full else ""))
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


# ------------------------------------------------------------------ exports (administrators)

EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "csv-long": ("text/csv; charset=utf-8", "csv"),
    "fhir": ("application/fhir+json; charset=utf-8", "json"),
    "codebook": ("text/csv; charset=utf-8", "csv"),
    "stata-labels": ("text/plain; charset=utf-8", "do"),
    "spss-labels": ("text/plain; charset=utf-8", "sps"),
    "fhir-ndjson": ("application/zip", "zip"),  # bulk NDJSON, one file per resource type, zipped
}


@bp.get("/export")
@staff_required("admin")
def exports():
    return render_template("staff/export.html", formats=EXPORT_FORMATS)


@bp.get("/export/<fmt>")
@staff_required("admin")
def export_download(fmt: str):
    from . import export

    if fmt not in EXPORT_FORMATS:
        abort(404)
    mimetype, extension = EXPORT_FORMATS[fmt]
    if fmt == "fhir-ndjson":
        from .fhir import ndjson_zip_chunks

        data = ndjson_zip_chunks(catalog(), lang=current_language())
    else:
        data = (chunk.encode("utf-8") for chunk in export.export_chunks(catalog(), fmt, lang=current_language()))
    catalog().store.audit(g.actor, "export", "data", fmt, format=fmt)
    stamp = dt.date.today().isoformat()
    # Streamed as it is written: the worker holds one patient's responses at a time, never the whole file.
    return Response(stream_with_context(data), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="pro-app-{fmt}-{stamp}.{extension}"'})


@bp.app_template_filter("date")
def date_filter(value: Any, format: str = "medium") -> str:
    """An ISO date (or datetime) as the reader writes dates: '3 februari 2025' / 'February 3, 2025'."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return f"{format_date(to_user_timezone(value).date(), format)} {format_time(value, 'short')}"
    return format_date(value, format)


@bp.app_template_filter("language_name")
def language_name(code: str | None) -> str:
    """'sv' as the reader calls it: 'svenska' / 'Swedish'."""
    if not code:
        return ""
    try:
        return Locale.parse(code).get_display_name(current_language()) or code
    except (ValueError, UnknownLocaleError):
        return code
