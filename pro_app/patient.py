"""Blueprint: the patient's tablet flow, one page at a time.

A nurse hands a tablet over for one visit (``staff.handoff``); from then on the
session knows only that patient and visit, and every URL here carries nothing but
the questionnaire id and page number. Answers are saved page by page (and on every
change by the page script), so a tablet that sleeps or a patient who stops resumes
where they left off. Idle or finished, the tablet locks and needs staff to unlock.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .auth import authenticate, start_staff_session
from .catalog import catalog
from .definitions import Questionnaire
from .forms import page_form, read_page_post
from .scoring import is_answered
from .storage import AlreadyCompleted, NotFound, StorageError
from .web import current_language

__all__ = ["bp", "render_after_stale_token", "hand_over"]

bp = Blueprint("patient", __name__, url_prefix="/tablet")
log = logging.getLogger("pro_app")


def _not_saved() -> str:
    return _("The answers could not be saved right now. Nothing already saved is lost. Please ask the staff for help.")


class UnlockForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


def hand_over(patient_id: str, visit_id: str, staff_user: str, lang: str | None) -> None:
    """Lock this browser session to one patient's visit: no staff identity survives."""
    session.clear()
    session.permanent = True
    session["tablet"] = {"patient": patient_id, "visit": visit_id, "by": staff_user, "last": time.time(), "locked": False}
    if lang:
        session["lang"] = lang


def _tablet() -> dict[str, Any]:
    return session["tablet"]


def _actor() -> str:
    return f"patient:tablet(handed over by staff:{_tablet()['by']})"


def _lock(reason: str) -> None:
    tablet = session.get("tablet")
    if tablet:
        tablet["locked"] = True
        tablet["reason"] = reason
        session.modified = True


@bp.before_request
def guard():
    if request.endpoint in ("patient.locked", "patient.static"):
        return None
    tablet = session.get("tablet")
    if not tablet:
        return redirect(url_for("patient.locked"))
    if tablet.get("locked"):
        return redirect(url_for("patient.locked"))
    idle = current_app.config["TABLET_IDLE_MINUTES"] * 60
    if time.time() - tablet.get("last", 0) > idle and request.method == "GET":
        _lock("idle")
        return redirect(url_for("patient.locked"))
    tablet["last"] = time.time()
    session.modified = True
    return None


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


# ------------------------------------------------------------------ helpers


def _visit() -> dict[str, Any]:
    t = _tablet()
    return catalog().store.get_visit(t["patient"], t["visit"])


def _due(visit: dict[str, Any]) -> list[Questionnaire]:
    cat = catalog()
    return [q for qid in visit["questionnaires"] if (q := cat.get(qid)) is not None and q.audience == "patient"]


def _response_for(qid: str) -> tuple[dict[str, Any], Questionnaire]:
    visit = _visit()
    if qid not in visit["questionnaires"]:
        abort(404)
    cat = catalog()
    current = cat.get(qid)
    if current is None or current.audience != "patient":
        abort(404)
    t = _tablet()
    # A lock-free read finds the response on every page after the first; only creating it takes the lock.
    response = next((r for r in cat.store.list_responses(t["patient"], t["visit"]) if r["questionnaire"] == qid), None)
    if response is None:
        response = cat.store.start_response(t["patient"], t["visit"], current, _actor(), current_language())
    q = cat.for_response(response) or current
    return response, q


def _progress(q: Questionnaire, pages: list[Any], index: int) -> dict[str, Any]:
    visit = _visit()
    due = [x.id for x in _due(visit)]
    total_steps = len(pages) + 1  # the review page is a step too
    return {
        "step": index + 1,
        "steps": total_steps,
        "percent": round(100 * index / total_steps),
        "questionnaire_number": due.index(q.id) + 1 if q.id in due else 1,
        "questionnaires": len(due),
    }


# ------------------------------------------------------------------ views


@bp.get("/")
def home():
    visit = _visit()
    t = _tablet()
    responses = {r["questionnaire"]: r for r in catalog().store.list_responses(t["patient"], t["visit"])}
    rows = [(q, responses.get(q.id)) for q in _due(visit)]
    pending = [(q, r) for q, r in rows if not r or r["status"] != "completed"]
    if rows and not pending:
        return render_template("patient/done.html")
    return render_template("patient/home.html", rows=rows, pending=pending)


@bp.get("/q/<qid>")
def start(qid: str):
    response, q = _response_for(qid)
    if response["status"] == "completed":
        flash(_("This questionnaire is already completed. Thank you!"), "info")
        return redirect(url_for("patient.home"))
    pages = q.visible_pages(response["answers"])
    index = min(int(response.get("page") or 0), len(pages))
    if index >= len(pages):
        return redirect(url_for("patient.review", qid=qid))
    return redirect(url_for("patient.page", qid=qid, n=index))


def _render_page(q: Questionnaire, response: dict[str, Any], n: int, form: FlaskForm, errors: dict[str, str],
                 answers: dict[str, Any], status: int = 200, notice: str | None = None, alert: str | None = None):
    pages = q.visible_pages(answers)
    page = pages[n]
    items = q.visible_items(page, answers)
    return render_template(
        "patient/page.html", q=q, page=page, items=items, form=form, errors=errors, n=n,
        progress=_progress(q, pages, n), notice=notice, alert=alert,
    ), status


@bp.route("/q/<qid>/p/<int:n>", methods=["GET", "POST"])
def page(qid: str, n: int):
    response, q = _response_for(qid)
    if response["status"] == "completed":
        return redirect(url_for("patient.home"))
    answers = dict(response["answers"])
    pages = q.visible_pages(answers)
    if n >= len(pages):
        return redirect(url_for("patient.review", qid=qid))
    page_def = pages[n]
    lang = current_language()

    if request.method == "GET":
        form = page_form(q, page_def, answers, lang, response.get("item_meta"))
        return _render_page(q, response, n, form, {}, answers)

    form = page_form(q, page_def, answers, lang, formdata=request.form)
    post = read_page_post(q, page_def, answers, form, set(request.form.get("shown", "").split()))
    errors, merged = post.errors, post.merged
    action = request.form.get("action", "next")
    moving_on = action == "next" and not errors and not post.appeared
    new_pages = q.visible_pages(merged)
    position = next((i for i, p in enumerate(new_pages) if p.id == page_def.id), n)
    # Where to resume is stored with the answers: one write per page, not two.
    resume_at = min(position + 1, len(new_pages)) if moving_on else n
    t = _tablet()
    try:
        saved = catalog().store.save_answers(t["patient"], response["id"], _actor(), post.update, post.meta,
                                             page=resume_at, language=lang)
    except AlreadyCompleted:
        return redirect(url_for("patient.home"))
    except StorageError as exc:
        # Keep what the patient just entered on the page (the error page would lose it) so they can send it again.
        log.error("storage error: %s", exc)
        if action == "autosave":
            return jsonify({"saved": False, "errors": sorted(errors)}), 503
        return _render_page(q, response, n, form, errors, merged, status=503, alert=_not_saved())

    if action == "autosave":
        return jsonify({"saved": True, "errors": sorted(errors)})
    if action == "lock":
        _lock("idle")
        return redirect(url_for("patient.locked"))
    if action.startswith("lang-") and action[5:] in ("sv", "en"):
        session["lang"] = action[5:]
        return redirect(url_for("patient.page", qid=qid, n=n))
    if errors:
        return _render_page(q, saved, n, form, errors, merged, status=422)
    if action == "next" and post.appeared:
        # A follow-up question appeared on this page: show it before moving on.
        fresh = page_form(q, page_def, saved["answers"], lang, saved.get("item_meta"))
        return _render_page(q, saved, n, fresh, {}, saved["answers"],
                            notice=_("A follow-up question has appeared below."))
    if action == "back":
        return redirect(url_for("patient.page", qid=qid, n=n - 1) if n > 0 else url_for("patient.home"))
    if resume_at >= len(new_pages):
        return redirect(url_for("patient.review", qid=qid))
    return redirect(url_for("patient.page", qid=qid, n=resume_at))


def _review_rows(q: Questionnaire, answers: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    rows = []
    for index, page_def in enumerate(q.visible_pages(answers)):
        for item in q.visible_items(page_def, answers):
            for aid in item.answer_ids():
                value = answers.get(aid)
                rows.append({
                    "id": aid, "text": q.answer_text(aid, lang), "page": index, "required": item.required,
                    "answered": is_answered(value), "shown": _shown_value(q, item, aid, value, lang),
                    "grid_title": item.text.get(lang) if item.type == "grid" else None,
                })
    return rows


def _shown_value(q: Questionnaire, item: Any, aid: str, value: Any, lang: str) -> str:
    if not is_answered(value):  # an empty list too: "none of these" is the definition's own option
        return ""
    if item.type == "vas":
        return _("Marked on the line")  # never the number: the patient rates, the clinic measures
    options = q.options_for(aid)
    if options is not None:
        values = value if isinstance(value, list) else [value]
        labels = {str(o.code): o.text.get(lang) for o in options}
        return "; ".join(labels.get(str(v), str(v)) for v in values)
    if item.type == "numeric":
        text = str(value).replace(".", ",") if lang == "sv" else str(value)
        return f"{text} {item.unit}" if item.unit else text
    return str(value)


@bp.route("/q/<qid>/review", methods=["GET", "POST"])
def review(qid: str):
    response, q = _response_for(qid)
    if response["status"] == "completed":
        return redirect(url_for("patient.home"))
    lang = current_language()
    answers = response["answers"]
    rows = _review_rows(q, answers, lang)
    form = FlaskForm()
    pages = q.visible_pages(answers)
    progress = _progress(q, pages, len(pages))
    if request.method == "POST":
        action = request.form.get("action", "submit")
        if action.startswith("lang-") and action[5:] in ("sv", "en"):
            session["lang"] = action[5:]
            return redirect(url_for("patient.review", qid=qid))
        if action == "back":
            return redirect(url_for("patient.page", qid=qid, n=max(len(pages) - 1, 0)))
        missing_required = [r for r in rows if r["required"] and not r["answered"]]
        if missing_required:
            flash(_("Please answer the questions marked as required before you send."), "error")
            return render_template("patient/review.html", q=q, rows=rows, form=form, progress=progress), 422
        t = _tablet()
        visible = set(q.visible_answer_ids(answers))
        hidden = {aid: None for aid in answers if aid not in visible}
        store = catalog().store
        try:
            if hidden:  # answers to questions that skip logic has since hidden do not count
                store.save_answers(t["patient"], response["id"], _actor(), hidden)
            _completed, newly = store.complete_response(t["patient"], response["id"], _actor())
        except StorageError as exc:
            log.error("storage error: %s", exc)
            flash(_not_saved(), "error")
            return render_template("patient/review.html", q=q, rows=rows, form=form, progress=progress), 503
        if newly:
            flash(_("Thank you! Your answers to %(title)s are saved.", title=q.title.get(lang)), "success")
        return redirect(url_for("patient.home"))
    return render_template("patient/review.html", q=q, rows=rows, form=form, progress=progress)


@bp.route("/locked", methods=["GET", "POST"])
def locked():
    form = UnlockForm()
    if request.method == "POST" and form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            flash(_("Wrong username or password."), "error")
            return render_template("patient/locked.html", form=form), 401
        tablet = session.get("tablet") or {}
        start_staff_session(user)
        catalog().store.audit(f"staff:{user['username']}", "unlock", "tablet", tablet.get("visit", "-"), tablet.get("patient"))
        if tablet.get("patient"):
            return redirect(url_for("staff.patient", patient_id=tablet["patient"]))
        return redirect(url_for("staff.dashboard"))
    if session.get("tablet") and not session["tablet"].get("locked"):
        _lock("manual")
    return render_template("patient/locked.html", form=form)


@bp.post("/finish")
def finish():
    """The patient is done: lock the tablet until staff unlock it."""
    _lock("done")
    return redirect(url_for("patient.locked"))


def render_after_stale_token():
    """After an expired CSRF token: show the same page again with the posted answers kept."""
    if request.endpoint not in ("patient.page", "patient.review") or not session.get("tablet"):
        return None
    try:
        qid = request.view_args["qid"]
        response, q = _response_for(qid)
    except (NotFound, KeyError):
        return None
    if response["status"] == "completed":
        return None
    notice = _("Your answers are kept, but the page had expired. Please check them and press the button again.")
    if request.endpoint == "patient.review":
        lang = current_language()
        pages = q.visible_pages(response["answers"])
        flash(notice, "error")
        return render_template("patient/review.html", q=q, rows=_review_rows(q, response["answers"], lang),
                               form=FlaskForm(), progress=_progress(q, pages, len(pages)))
    n = request.view_args.get("n", 0)
    pages = q.visible_pages(response["answers"])
    if n >= len(pages):
        return None
    form = page_form(q, pages[n], response["answers"], current_language(), formdata=request.form)
    body, _status = _render_page(q, response, n, form, {}, response["answers"], notice=notice)
    return body
