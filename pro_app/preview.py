"""`pro-app preview FILE.yaml`: a questionnaire as the tablet shows it, while its author writes it.

A small Flask app of its own on 127.0.0.1. It renders pages with the tablet's own templates
(``patient/page.html``, ``patient/review.html``, ``items.html``), form builder
(``forms.page_form``, ``forms.read_page_post``) and static files, so the preview follows any
change to the tablet. Its tablet blueprint takes the tablet's endpoint names
(``patient.page``, ``patient.review``…) under ``/tablet/<lang>/``: the templates build their
links as on the tablet, and each frame has its own language.

Around the tablet frame(s) the author gets a Swedish/English switch, both languages side by
side, each scale's score live (value, range, why it is missing), the items skip logic hides
and why, and, when the file is invalid, every error as ``file:line: where: what`` with the
YAML lines around it. The file is read again whenever it changes and the page reloads itself.
Answers live in this process's memory: nothing is written to any data folder.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect

from . import config
from .answers import normalise_value
from .definitions import LANGUAGES, Condition, DefinitionError, DefinitionErrors, Questionnaire, load_text
from .forms import page_form, read_page_post
from .scoring import score
from .web import CSP, current_language, number, safe_next, template_helpers

__all__ = ["create_preview_app", "Draft"]

log = logging.getLogger("pro_app")
# The shell frames the tablet pages: same origin only.
PREVIEW_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
VIEWS = ("sv", "en", "both")
FRAMES = {"portrait": (820, 1180), "landscape": (1180, 820)}


# ------------------------------------------------------------------ the file and the answers


@dataclass
class Draft:
    """The questionnaire file being previewed, read again when it changes, and the answers so far (in memory)."""

    path: Path
    answers: dict[str, Any] = field(default_factory=dict)
    item_meta: dict[str, Any] = field(default_factory=dict)
    changes: int = 0  # counts saves, so the preview window knows when to refresh its scores
    digest: str = ""
    text: str = ""
    questionnaire: Questionnaire | None = None
    errors: list[DefinitionError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return str(self.path)

    def refresh(self) -> None:
        """Read the file again if its bytes changed since the last request."""
        try:
            raw = self.path.read_bytes()
        except OSError as exc:  # an editor may replace the file by renaming: the next poll finds it again
            raw, problem = None, f"cannot read: {exc.strerror}"
        digest = hashlib.sha256(raw).hexdigest() if raw is not None else "unreadable"
        with self._lock:
            if digest == self.digest:
                return
            self.digest = digest
            if raw is None:
                self._invalid("", [DefinitionError(self.name, 1, "file", problem)])
                return
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._invalid("", [DefinitionError(self.name, 1, "file", f"not UTF-8 text ({exc.reason})")])
                return
            try:
                questionnaire = load_text(text, self.name)
            except DefinitionErrors as exc:
                self._invalid(text, exc.errors)
                return
            self.text, self.errors, self.questionnaire = text, [], questionnaire
            self._keep_answers_that_still_fit(questionnaire)

    def _invalid(self, text: str, errors: list[DefinitionError]) -> None:
        self.text, self.errors, self.questionnaire = text, errors, None

    def _keep_answers_that_still_fit(self, q: Questionnaire) -> None:
        known = set(q.answer_ids())
        kept = {}
        for aid, value in self.answers.items():
            if aid in known:
                try:
                    kept[aid] = normalise_value(q, aid, value)
                except ValueError:
                    continue
        self.answers = {k: v for k, v in kept.items() if v is not None}
        self.item_meta = {k: v for k, v in self.item_meta.items() if k in known}
        self.changes += 1

    def save(self, update: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            for aid, value in update.items():
                if value is None:
                    self.answers.pop(aid, None)
                else:
                    self.answers[aid] = value
            self.item_meta.update(meta or {})
            self.changes += 1
            return dict(self.answers)

    def reset(self) -> None:
        with self._lock:
            self.answers, self.item_meta = {}, {}
            self.changes += 1


def draft() -> Draft:
    current: Draft = current_app.extensions["pro_app.preview"]
    current.refresh()
    return current


def _default_language() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _locale() -> str:
    lang = g.get("lang") or request.args.get("lang")
    return lang if lang in LANGUAGES else _default_language()


# ------------------------------------------------------------------ what the side panel shows


def _plain(value: float, decimals: int) -> str:
    return number(value, 0 if float(value).is_integer() else decimals)


def _quoted(text: str) -> str:
    return _("“%(text)s”", text=" ".join(text.split()))


def _answer_label(q: Questionnaire, aid: str, value: Any, lang: str) -> str:
    if value in (None, "", []):
        return _("not answered")
    options = q.options_for(aid)
    if options is not None:
        labels = {str(o.code): o.text.get(lang) for o in options}
        values = value if isinstance(value, list) else [value]
        return ", ".join(_quoted(labels.get(str(v), str(v))) for v in values)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _plain(value, 1)
    return _quoted(str(value))


def describe(cond: Condition, q: Questionnaire, answers: dict[str, Any], lang: str) -> str:
    """Skip logic in the reader's words, each question with its answer now."""
    if cond.all is not None:
        return _("all of: %(conditions)s", conditions="; ".join(describe(c, q, answers, lang) for c in cond.all))
    if cond.any is not None:
        return _("any of: %(conditions)s", conditions="; ".join(describe(c, q, answers, lang) for c in cond.any))
    aid = cond.item or ""
    try:
        question = _quoted(q.answer_text(aid, lang))
    except KeyError:
        question = aid
    if cond.equals is not None:
        test = _("%(question)s is %(value)s", question=question, value=_answer_label(q, aid, cond.equals, lang))
    elif cond.in_ is not None:
        test = _("%(question)s is one of %(values)s", question=question,
                 values=", ".join(_answer_label(q, aid, v, lang) for v in cond.in_))
    elif cond.not_in is not None:
        test = _("%(question)s is answered and is none of %(values)s", question=question,
                 values=", ".join(_answer_label(q, aid, v, lang) for v in cond.not_in))
    elif cond.gte is not None:
        test = _("%(question)s is at least %(number)s", question=question, number=_plain(cond.gte, 2))
    elif cond.lte is not None:
        test = _("%(question)s is at most %(number)s", question=question, number=_plain(cond.lte, 2))
    elif cond.answered:
        test = _("%(question)s is answered", question=question)
    else:
        test = _("%(question)s is not answered", question=question)
    return _("%(test)s (now: %(answer)s)", test=test, answer=_answer_label(q, aid, answers.get(aid), lang))


def hidden_items(q: Questionnaire, answers: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """Every item skip logic hides now, and the condition that would show it."""
    hidden = []
    answers = q.shown_answers(answers)  # a hidden item's answer is absent to every condition
    for number_, page in enumerate(q.pages, 1):
        page_shown = page.show_if is None or page.show_if.holds(answers)
        page_name = page.title.get(lang) if page.title else _("page %(n)s", n=number_)
        for item in page.items:
            if not page_shown:
                reason = _("Its page (%(page)s) is shown only when %(condition)s.", page=page_name,
                           condition=describe(page.show_if, q, answers, lang))  # type: ignore[arg-type]
            elif item.show_if is not None and not item.show_if.holds(answers):
                reason = _("Shown only when %(condition)s.", condition=describe(item.show_if, q, answers, lang))
            else:
                continue
            hidden.append({"id": item.id, "text": item.text.get(lang), "reason": reason})
    return hidden


def scored_scales(q: Questionnaire, answers: dict[str, Any], lang: str) -> tuple[list[dict[str, Any]], str | None]:
    """Each scale as the summary will show it, scored from the answers to items now shown."""
    try:
        scales = score(q, answers)  # scored from the answers that count, as everywhere
    except Exception as exc:  # a scorer plugin's bug must not take the preview down: show it instead
        log.exception("preview: scorer %s failed", q.scoring.scorer)
        return [], f"{type(exc).__name__}: {exc}"
    rows = []
    for s in scales:
        rows.append({
            "label": s.label.get(lang) or s.label.get("en") or "",
            "value": None if s.value is None else number(s.value, s.decimals),
            "unit": s.unit or "",
            "range": f"{_plain(s.min, s.decimals)}–{_plain(s.max, s.decimals)}",
            "higher_is_better": s.higher_is_better,
            "answered": s.answered, "n_items": s.items,
            "reason": (s.reason or {}).get(lang),
            "missing": [_safe_text(q, aid, lang) for aid in s.missing],
        })
    return rows, None


def _safe_text(q: Questionnaire, aid: str, lang: str) -> str:
    try:
        return q.answer_text(aid, lang)
    except KeyError:
        return aid


def panel_context(d: Draft, lang: str) -> dict[str, Any]:
    q = d.questionnaire
    if q is None:
        return {"q": None}
    answers = dict(d.answers)
    scales, scoring_error = scored_scales(q, answers, lang)
    visible = q.visible_answer_ids(answers)
    return {
        "q": q, "scales": scales, "scoring_error": scoring_error, "hidden": hidden_items(q, answers, lang),
        "answered": sum(1 for aid in visible if answers.get(aid) not in (None, "", [])), "shown": len(visible),
    }


def error_blocks(d: Draft) -> list[dict[str, Any]]:
    """Each error with the YAML lines around the one it points at."""
    lines = d.text.splitlines()
    blocks = []
    for error in d.errors:
        first, last = max(1, error.line - 2), min(len(lines), error.line + 2)
        blocks.append({"text": str(error), "lines": [(n, lines[n - 1], n == error.line) for n in range(first, last + 1)]})
    return blocks


# ------------------------------------------------------------------ the window around the tablet

shell = Blueprint("preview", __name__)


def _view() -> str:
    view = request.args.get("view")
    return view if view in VIEWS else _default_language()


def _orientation() -> str:
    orientation = request.args.get("orient")
    return orientation if orientation in FRAMES else "portrait"


def index():
    """The preview window (endpoint ``index``, as the error page's link expects)."""
    d = draft()
    view, orientation = _view(), _orientation()
    g.lang = view if view in LANGUAGES else _default_language()
    q = d.questionnaire
    frames = []
    if q is not None:
        for lang in (LANGUAGES if view == "both" else (view,)):
            frames.append({"lang": lang, "src": url_for("patient.page", lang=lang, qid=q.id, n=0)})
    width, height = FRAMES[orientation]
    return render_template(
        "preview/shell.html", draft=d, frames=frames, view=view, orientation=orientation, width=width,
        height=height, errors=error_blocks(d), reset_form=FlaskForm(), **panel_context(d, g.lang),
    )


@shell.get("/panel")
def panel():
    return render_template("preview/panel.html", **panel_context(draft(), current_language()))


@shell.get("/status")
def status():
    d = draft()
    return jsonify({"revision": d.digest, "changes": d.changes, "valid": d.questionnaire is not None})


@shell.post("/reset")
def reset():
    form = FlaskForm()
    if form.validate_on_submit():
        draft().reset()
    args = {k: v for k, v in (("view", request.form.get("view")), ("orient", request.form.get("orient"))) if v}
    return redirect(url_for("index", **args))


def language():
    """The language form of pages without their own (the thank-you page): the same page in the other language."""
    lang = request.form.get("lang")
    target = safe_next(request.form.get("next"), "/")
    parts = target.split("/")
    if lang in LANGUAGES and len(parts) > 2 and parts[1] == "tablet":
        parts[2] = lang
    return redirect("/".join(parts))


# ------------------------------------------------------------------ the tablet pages

tablet = Blueprint("patient", __name__, url_prefix="/tablet/<lang>")


@tablet.url_value_preprocessor
def _pull_language(endpoint: str | None, values: dict[str, Any] | None) -> None:
    lang = (values or {}).pop("lang", None)
    if lang not in LANGUAGES:
        abort(404)
    g.lang = lang


@tablet.url_defaults
def _add_language(endpoint: str, values: dict[str, Any]) -> None:
    values.setdefault("lang", g.get("lang") or _default_language())


def _progress(pages: list[Any], index: int) -> dict[str, Any]:
    steps = len(pages) + 1  # the review page is a step too, as on the tablet
    return {"step": index + 1, "steps": steps, "percent": round(100 * index / steps),
            "questionnaire_number": 1, "questionnaires": 1}


def _file_invalid():
    return render_template("error.html", title=_("The questionnaire file has problems"),
                           message=_("The preview window lists them. Fix the file and save it.")), 503


@tablet.get("/")
def home():
    """After "Send answers": the tablet's thank-you page (nothing was stored)."""
    return render_template("patient/done.html")


@tablet.post("/finish")
def finish():
    draft().reset()
    q = draft().questionnaire
    return redirect(url_for("patient.page", qid=q.id, n=0) if q else url_for("index"))


@tablet.get("/q/<qid>")
def start(qid: str):
    return redirect(url_for("patient.page", qid=qid, n=0))


def _render_page(q: Questionnaire, n: int, form: FlaskForm, errors: dict[str, str], answers: dict[str, Any],
                 status: int = 200, notice: str | None = None):
    pages = q.visible_pages(answers)
    page = pages[n]
    return render_template(
        "patient/page.html", q=q, page=page, items=q.visible_items(page, answers), form=form, errors=errors, n=n,
        progress=_progress(pages, n), notice=notice, alert=None,
    ), status


@tablet.route("/q/<qid>/p/<int:n>", methods=["GET", "POST"])
def page(qid: str, n: int):
    d = draft()
    q = d.questionnaire
    if q is None:
        return _file_invalid()
    if qid != q.id:  # the author renamed the questionnaire: follow it
        return redirect(url_for("patient.page", qid=q.id, n=n))
    answers = dict(d.answers)
    pages = q.visible_pages(answers)
    if n >= len(pages):
        return redirect(url_for("patient.review", qid=qid))
    page_def = pages[n]
    lang = current_language()
    if request.method == "GET":
        return _render_page(q, n, page_form(q, page_def, answers, lang, d.item_meta), {}, answers)

    form = page_form(q, page_def, answers, lang, formdata=request.form)
    post = read_page_post(q, page_def, answers, form, set(request.form.get("shown", "").split()))
    saved = d.save(post.update, post.meta)
    action = request.form.get("action", "next")
    if action == "autosave":
        return jsonify({"saved": True, "errors": sorted(post.errors)})
    if action.startswith("lang-") and action[5:] in LANGUAGES:
        return redirect(url_for("patient.page", lang=action[5:], qid=qid, n=n))
    if post.errors:
        return _render_page(q, n, form, post.errors, post.merged, status=422)
    if action == "next" and post.appeared:
        fresh = page_form(q, page_def, saved, lang, d.item_meta)
        return _render_page(q, n, fresh, {}, saved, notice=_("A follow-up question has appeared below."))
    if action == "back":
        return redirect(url_for("patient.page", qid=qid, n=max(n - 1, 0)))
    if action != "next":  # "lock" (idle) and anything else: stay on the page
        return redirect(url_for("patient.page", qid=qid, n=n))
    new_pages = q.visible_pages(saved)
    position = next((i for i, p in enumerate(new_pages) if p.id == page_def.id), n)
    if position + 1 >= len(new_pages):
        return redirect(url_for("patient.review", qid=qid))
    return redirect(url_for("patient.page", qid=qid, n=position + 1))


@tablet.route("/q/<qid>/review", methods=["GET", "POST"])
def review(qid: str):
    from .patient import _review_rows  # the tablet's own rows, so the preview's review page is the tablet's

    d = draft()
    q = d.questionnaire
    if q is None:
        return _file_invalid()
    if qid != q.id:
        return redirect(url_for("patient.review", qid=q.id))
    lang = current_language()
    answers = dict(d.answers)
    rows = _review_rows(q, answers, lang)
    pages = q.visible_pages(answers)
    context = {"q": q, "rows": rows, "form": FlaskForm(), "progress": _progress(pages, len(pages))}
    if request.method == "POST":
        action = request.form.get("action", "submit")
        if action.startswith("lang-") and action[5:] in LANGUAGES:
            return redirect(url_for("patient.review", lang=action[5:], qid=qid))
        if action == "back":
            return redirect(url_for("patient.page", qid=qid, n=max(len(pages) - 1, 0)))
        if any(r["required"] and not r["answered"] for r in rows):
            flash(_("Please answer the questions marked as required before you send."), "error")
            return render_template("patient/review.html", **context), 422
        visible = set(q.visible_answer_ids(answers))
        d.save({aid: None for aid in answers if aid not in visible})  # as the tablet: hidden answers do not count
        return redirect(url_for("patient.home"))
    return render_template("patient/review.html", **context)


# ------------------------------------------------------------------ the app


def create_preview_app(path: str | Path) -> Flask:
    """A preview of one questionnaire file; its answers live in memory only."""
    app = Flask(__name__)  # its root is pro_app/: the tablet's own templates and static files
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_NAME="pro_app_preview",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        TABLET_IDLE_MINUTES=0,  # no idle lock while an author reads the page
        BABEL_DEFAULT_LOCALE=os.environ.get("PRO_APP_DEFAULT_LANGUAGE", "sv"),
        BABEL_DEFAULT_TIMEZONE=os.environ.get("PRO_APP_TIMEZONE", "Europe/Stockholm"),
        BABEL_TRANSLATION_DIRECTORIES=str(config.translations_dir()),
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,
    )
    app.extensions["pro_app.preview"] = Draft(Path(path))
    Babel(app, locale_selector=_locale)
    CSRFProtect(app)
    app.context_processor(template_helpers)
    # The endpoints the shared templates link to by their app-level names.
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/language", "language", language, methods=["POST"])
    app.register_blueprint(shell)
    app.register_blueprint(tablet)

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = PREVIEW_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
