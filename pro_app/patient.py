"""Blueprint: the patient's tablet flow, one page at a time.

A nurse hands a tablet over for one visit (``staff.handoff``); from then on the
session knows only that patient and visit, and every URL here carries nothing but
the questionnaire id and page number. Answers are saved page by page (and on every
change by the page script), so a tablet that sleeps or a patient who stops resumes
where they left off. Idle or finished, the tablet locks and needs staff to unlock.

The tablet's session lives in the store (``sessions``): a lock holds whatever cookie is
replayed, and the lock and idle checks run before anything else, CSRF included. Every posted
page names the response it belongs to (``response``, bound to the id with the app's key) and
carries a stamp (``rev``, ``seq``): a page from an earlier patient's session is refused without
showing or storing anything, and an older save never overwrites a newer one.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from . import sessions
from .auth import authenticate, login_refused, start_staff_session
from .catalog import catalog
from .definitions import Questionnaire
from .forms import page_form, read_page_post
from .scoring import is_answered
from .storage import AlreadyCompleted, NotFound, StaleWrite, Stamp, StorageError
from .web import current_language

__all__ = ["bp", "render_after_stale_token", "hand_over"]

bp = Blueprint("patient", __name__, url_prefix="/tablet")
log = logging.getLogger("pro_app")


def _not_saved(exc: StorageError | None = None) -> str:
    if exc is not None and exc.disk_full:
        return _("The answers could not be saved right now: the disk is full. Answers already saved are kept. "
                    "Please tell the staff.")
    return _("The answers could not be saved right now. Nothing already saved is lost. Please ask the staff for help.")


class UnlockForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


def hand_over(patient_id: str, visit_id: str, staff_user: str, lang: str | None) -> None:
    """Lock this browser session to one patient's visit: the staff session ends, nothing of it survives."""
    sessions.begin("tablet", patient=patient_id, visit=visit_id, by=staff_user, locked=False)
    if lang:
        session["lang"] = lang


def _tablet() -> dict[str, Any]:
    record = sessions.current("tablet")
    if record is None:  # pragma: no cover - the guard has redirected already
        abort(403)
    return record


def _actor() -> str:
    return f"patient:tablet(handed over by staff:{_tablet()['by']})"


def _lock(reason: str) -> None:
    record = sessions.current("tablet")
    if record is not None and not record.get("locked"):
        sessions.touch(locked=True, reason=reason)
        catalog().store.audit(_actor(), "lock", "tablet", record["visit"], record["patient"], reason=reason)


def guard():
    """Before CSRF and before any view: a tablet page needs a live, unlocked tablet session.

    An idle tablet locks on any request, a POST too, and nothing posted is stored.
    """
    if request.blueprint != "patient" or request.endpoint in (None, "patient.locked"):
        return None
    record = sessions.current("tablet")
    if record is not None and not record.get("locked") and record["idle"]:
        _lock("idle")
        record = None
    elif record is not None and not record.get("locked") and _done_long_enough(record):
        _lock("done")  # the thank-you page was shown and nobody pressed the button: lock all the same
        record = None
    if record is None or record.get("locked"):
        if request.method == "POST" and request.form.get("action") == "autosave":
            return jsonify({"saved": False, "locked": True}), 401
        return redirect(url_for("patient.locked"), code=303)
    sessions.touch()
    return None


bp.before_app_request(guard)


def _done_long_enough(record: dict[str, Any]) -> bool:
    done_at = record.get("done_at")
    return done_at is not None and time.time() - float(done_at) > current_app.config["TABLET_DONE_LOCK_SECONDS"]


@bp.context_processor
def tablet_context() -> dict[str, Any]:
    """What every tablet page's script needs: when to warn and lock when idle, where to say "still here"."""
    return {"idle": {"seconds": float(current_app.config["TABLET_IDLE_MINUTES"]) * 60,
                     "alive": url_for("patient.alive"), "lock": url_for("patient.idle_lock")}}


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


def _binding(response_id: str) -> str:
    """What a page posts to name its response: tied to the id by the app's key, the id itself not shown."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"response:{response_id}".encode(), hashlib.sha256).hexdigest()[:32]


def _posted_response(qid: str) -> tuple[dict[str, Any], Questionnaire] | None:
    """The response a posted page names, if it is this tablet's response to ``qid``; never creates one."""
    response, q = _response_for(qid, create=False)
    if response is None or not hmac.compare_digest(_binding(response["id"]), request.form.get("response", "")):
        return None
    return response, q


def _page_response(qid: str) -> tuple[dict[str, Any], Questionnaire] | None:
    """The response a GET shows (created on first sight), or the one a POST names: None if it is not this tablet's."""
    if request.method == "POST":
        return _posted_response(qid)
    return _response_for(qid)  # type: ignore[return-value]


def _posted_stamp() -> Stamp:
    try:
        return Stamp(int(request.form.get("rev", "")), int(request.form.get("seq", "")))
    except ValueError:
        return Stamp(-1, 0)  # a page without a stamp is older than anything stored


def _foreign_page():
    """A page that belongs to another response (an earlier patient's tab): nothing shown, nothing stored."""
    if request.form.get("action") == "autosave":
        return jsonify({"saved": False, "foreign": True}), 409
    return render_template(
        "error.html", title=_("This page is no longer valid"),
        message=_("This page belonged to an earlier session on this tablet. Nothing from it was saved. "
                  "Please continue from the start page."),
    ), 409


# ------------------------------------------------------------------ helpers


def _visit() -> dict[str, Any]:
    """The tablet's visit, read once per request: the page, its progress line and the page that says a
    save failed share it (that page must not need the store that just failed)."""
    t = _tablet()
    key = (t["patient"], t["visit"])
    if g.get("tablet_visit", (None,))[0] != key:
        g.tablet_visit = (key, catalog().store.get_visit(*key))
    return g.tablet_visit[1]


def _due(visit: dict[str, Any]) -> list[Questionnaire]:
    cat = catalog()
    return [q for qid in visit["questionnaires"] if (q := cat.get(qid)) is not None and q.audience == "patient"]


def _response_for(qid: str, create: bool = True) -> tuple[dict[str, Any] | None, Questionnaire]:
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
        if not create:
            return None, current
        response = cat.store.start_response(t["patient"], t["visit"], current, _actor(), current_language())
    q = cat.for_response(response) or current
    return response, q


def _progress(q: Questionnaire, pages: list[Any], index: int) -> dict[str, Any]:
    due = [x.id for x in _due(_visit())]
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
        if t.get("done_at") is None:
            sessions.touch(done_at=time.time())
        return render_template("patient/done.html", lock_after=current_app.config["TABLET_DONE_LOCK_SECONDS"])
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
                 answers: dict[str, Any], status: int = 200, notice: str | None = None, alert: str | None = None,
                 focus: str | None = None):
    pages = q.visible_pages(answers)
    page = pages[n]
    items = q.visible_items(page, answers)
    return render_template(
        "patient/page.html", q=q, page=page, items=items, form=form, errors=errors, n=n,
        progress=_progress(q, pages, n), notice=notice, alert=alert, focus=focus,
        binding=_binding(response["id"]), revision=int(response.get("revision") or 0),
    ), status


def _stale_page(q: Questionnaire, n: int, action: str):
    """A save older than the stored answers: show the page as stored, and say why."""
    if action == "autosave":
        return jsonify({"saved": False, "stale": True}), 409
    response, q = _response_for(q.id, create=False)
    if response is None or response["status"] == "completed":
        return redirect(url_for("patient.home"))
    pages = q.visible_pages(response["answers"])
    n = min(n, len(pages) - 1)
    form = page_form(q, pages[n], response["answers"], current_language(), response.get("item_meta"))
    return _render_page(q, response, n, form, {}, response["answers"], status=409, notice=_(
        "This page had changed since it was opened (perhaps in another window). "
        "The saved answers are shown: please check them and press the button again."))


@bp.route("/q/<qid>/p/<int:n>", methods=["GET", "POST"])
def page(qid: str, n: int):
    found = _page_response(qid)
    if found is None:
        return _foreign_page()
    response, q = found
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
                                             page=resume_at, language=lang, stamp=_posted_stamp())
    except AlreadyCompleted:
        return redirect(url_for("patient.home"))
    except StaleWrite:
        if action == "lock":
            _lock("idle")
            return redirect(url_for("patient.locked"))
        return _stale_page(q, n, action)
    except StorageError as exc:
        # Keep what the patient just entered on the page (the error page would lose it) so they can send it again.
        log.error("storage error: %s", exc)
        if action == "autosave":
            return jsonify({"saved": False, "errors": sorted(errors)}), 503
        return _render_page(q, response, n, form, errors, merged, status=503, alert=_not_saved(exc))

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
        # A follow-up question appeared on this page: show it before moving on, and take the patient to it.
        fresh = page_form(q, page_def, saved["answers"], lang, saved.get("item_meta"))
        first = next(aid for item in q.visible_items(page_def, saved["answers"]) for aid in item.answer_ids()
                     if aid in post.appeared)
        return _render_page(q, saved, n, fresh, {}, saved["answers"],
                            notice=_("A follow-up question has appeared below."), focus=f"item-{first}")
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
                    "page_title": page_def.title.get(lang) if page_def.title else None,
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


def _render_review(q: Questionnaire, response: dict[str, Any], status: int = 200, focus: str | None = None):
    lang = current_language()
    answers = response["answers"]
    pages = q.visible_pages(answers)
    return render_template("patient/review.html", q=q, rows=_review_rows(q, answers, lang), form=FlaskForm(),
                           progress=_progress(q, pages, len(pages)), binding=_binding(response["id"]),
                           revision=int(response.get("revision") or 0), focus=focus), status


@bp.route("/q/<qid>/review", methods=["GET", "POST"])
def review(qid: str):
    found = _page_response(qid)
    if found is None:
        return _foreign_page()
    response, q = found
    if response["status"] == "completed":
        return redirect(url_for("patient.home"))
    lang = current_language()
    answers = response["answers"]
    if request.method == "POST":
        action = request.form.get("action", "submit")
        if action.startswith("lang-") and action[5:] in ("sv", "en"):
            session["lang"] = action[5:]
            return redirect(url_for("patient.review", qid=qid))
        if action == "back":
            pages = q.visible_pages(answers)
            return redirect(url_for("patient.page", qid=qid, n=max(len(pages) - 1, 0)))
        if any(r["required"] and not r["answered"] for r in _review_rows(q, answers, lang)):
            flash(_("Please answer the questions marked as required before you send."), "error")
            return _render_review(q, response, 422, focus="unanswered")
        t = _tablet()
        visible = set(q.visible_answer_ids(answers))
        try:
            # What is sent is what the patient checked: answers changed since the page was shown are not sent.
            _completed, newly = catalog().store.complete_response(
                t["patient"], response["id"], _actor(), expected_revision=_posted_stamp().revision,
                drop=[aid for aid in answers if aid not in visible])
        except StaleWrite:
            flash(_("Your answers had changed since this page was opened. Please check them and send again."), "error")
            return _render_review(q, catalog().store.get_response(t["patient"], response["id"]), 409)
        except StorageError as exc:
            log.error("storage error: %s", exc)
            flash(_not_saved(exc), "error")
            return _render_review(q, response, 503)
        if newly:
            flash(_("Thank you! Your answers to %(title)s are saved.", title=q.name_for_patient(lang)), "success")
        return redirect(url_for("patient.home"))
    return _render_review(q, response)


@bp.route("/locked", methods=["GET", "POST"])
def locked():
    form = UnlockForm()
    tablet = sessions.current("tablet")
    if request.method == "POST" and form.validate_on_submit():
        # A locked tablet's own unlock is not held up by other user names' failures from this address.
        user, refusal = authenticate(form.username.data, form.password.data, unlock=tablet is not None)
        if user is None:
            return login_refused("patient/locked.html", form, refusal)
        start_staff_session(user)
        catalog().store.audit(f"staff:{user['username']}", "unlock", "tablet", (tablet or {}).get("visit", "-"),
                              (tablet or {}).get("patient"))
        if tablet:
            return redirect(url_for("staff.patient", patient_id=tablet["patient"]))
        return redirect(url_for("staff.dashboard"))
    if tablet is not None:
        _lock("manual")
    return render_template("patient/locked.html", form=form)


@bp.post("/finish")
def finish():
    """The patient is done: lock the tablet until staff unlock it."""
    _lock("done")
    return redirect(url_for("patient.locked"))


@bp.post("/alive")
def alive():
    """"I am still here" on a page with nothing to save: the guard has noted the tablet is in use."""
    return "", 204


@bp.post("/idle")
def idle_lock():
    """The page's idle timer ran out on a page with nothing to save (a page's own form saves and locks)."""
    _lock("idle")
    return redirect(url_for("patient.locked"))


def render_after_stale_token():
    """After an expired CSRF token: show the same page again with the posted answers kept.

    Only to the live, unlocked tablet session the page belongs to (the guard has run): a page
    naming another response (an earlier patient's tab) is refused with nothing shown.
    Returns (body, status), or None when this is not a tablet page.
    """
    if request.endpoint not in ("patient.page", "patient.review") or sessions.current("tablet") is None:
        return None
    try:
        _response_for(request.view_args["qid"], create=False)  # a questionnaire this visit does not have: 404
    except (NotFound, KeyError, HTTPException):
        return render_template("error.html", title=_("Not found"), message=_("This page does not exist.")), 404
    if not request.form.get("response"):
        return None  # not one of our pages at all: the plain "form had expired" page, nothing shown
    posted = _posted_response(request.view_args["qid"])
    if posted is None:
        return _foreign_page()
    response, q = posted
    if response["status"] == "completed":
        return None
    notice = _("Your answers are kept, but the page had expired. Please check them and press the button again.")
    if request.endpoint == "patient.review":
        flash(notice, "error")
        return _render_review(q, response, 400)
    n = request.view_args.get("n", 0)
    pages = q.visible_pages(response["answers"])
    if n >= len(pages):
        return None
    form = page_form(q, pages[n], response["answers"], current_language(), formdata=request.form)
    return _render_page(q, response, n, form, {}, response["answers"], status=400, notice=notice)
