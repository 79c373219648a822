"""Blueprint: nurses and physicians: patients, visits, tablet hand-off, device calibration."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from .auth import staff_required
from .catalog import catalog
from .patient import hand_over

__all__ = ["bp"]

bp = Blueprint("staff", __name__, url_prefix="/staff")


class PatientForm(FlaskForm):
    study_code = StringField(
        _l("Study code"),
        validators=[DataRequired(), Length(max=40),
                    Regexp(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", message=_l("Letters, digits, - and _ only."))],
    )


class VisitForm(FlaskForm):
    key = StringField(_l("Visit"), validators=[DataRequired(), Length(max=40)])
    questionnaires = SelectMultipleField(
        _l("Questionnaires"), widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput()
    )


class HandoffForm(FlaskForm):
    language = RadioField(_l("Language on the tablet"), choices=[SelectChoice("sv", "Svenska"), SelectChoice("en", "English")], default="sv")


@bp.route("/", methods=["GET", "POST"])
@staff_required()
def dashboard():
    form = PatientForm()
    store = catalog().store
    if form.validate_on_submit():
        try:
            patient = store.create_patient(form.study_code.data, g.actor)
        except ValueError:
            form.study_code.errors = [_("This study code is already registered.")]
        else:
            flash(_("Patient %(code)s registered.", code=patient["study_code"]), "success")
            return redirect(url_for("staff.patient", patient_id=patient["id"]))
    return render_template("staff/dashboard.html", form=form, patients=store.list_patients())


@bp.route("/patients/<patient_id>", methods=["GET", "POST"])
@staff_required()
def patient(patient_id: str):
    cat = catalog()
    store = cat.store
    record = store.get_patient(patient_id)
    form = VisitForm()
    form.questionnaires.choices = [SelectChoice(q.id, q.title.get(_lang())) for q in cat.questionnaires.values() if q.audience == "patient"]
    if form.validate_on_submit():
        try:
            store.add_visit(patient_id, g.actor, key=form.key.data.strip(), label={"sv": form.key.data, "en": form.key.data},
                            questionnaires=form.questionnaires.data)
        except ValueError:
            form.key.errors = [_("This visit already exists.")]
        else:
            return redirect(url_for("staff.patient", patient_id=patient_id))
    visits = store.list_visits(patient_id)
    responses = store.list_responses(patient_id)
    return render_template("staff/patient.html", patient=record, visits=visits, responses=responses, form=form,
                           handoff=HandoffForm(), catalog=cat)


@bp.post("/patients/<patient_id>/visits/<visit_id>/tablet")
@staff_required()
def handoff(patient_id: str, visit_id: str):
    store = catalog().store
    store.get_visit(patient_id, visit_id)
    form = HandoffForm()
    if not form.validate_on_submit():
        return redirect(url_for("staff.patient", patient_id=patient_id))
    user = g.user
    store.audit(g.actor, "handoff", "tablet", visit_id, patient_id)
    hand_over(patient_id, visit_id, user, form.language.data)
    return redirect(url_for("patient.home"))


@bp.get("/calibrate")
@staff_required()
def calibrate():
    """Match a line on screen to 100 mm on a ruler; the device keeps the result."""
    return render_template("staff/calibrate.html")


def _lang() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "sv")
