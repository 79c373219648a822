"""Blueprint: the study overview for investigators (administrators and physicians), and the
report as a standalone HTML file, a PDF and the analysis dataset (CSV).

Views are thin: ``pro_app.report`` computes, ``templates/report/`` draws. ``render_report``
is shared with ``pro-app report``.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from flask_babel import gettext as _

from . import sessions
from .auth import SUMMARY_ROLES, staff_required
from .catalog import catalog
from .report import StudyReport, analysis_csv, build_report
from .studies import studies
from .web import current_language

__all__ = ["bp", "render_report", "FORMATS"]

bp = Blueprint("studies", __name__, url_prefix="/staff/studies")
ROLES = ("admin", "physician")
FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}

LinkFn = Callable[..., "str | None"]


def _no_link(*_args: Any) -> None:
    return None


def render_report(report: StudyReport, fmt: str, visit_link: LinkFn = _no_link, patient_link: LinkFn = _no_link,
                  link_note: str | None = None) -> bytes:
    """The report as a file: ``html`` (one self-contained page), ``pdf`` or ``csv``. Needs a request context."""
    if fmt == "csv":
        return analysis_csv(report).encode("utf-8")
    from .pdf import STATIC

    pdf = fmt == "pdf"
    css = "" if pdf else (STATIC / "report.css").read_text(encoding="utf-8")
    html = render_template("report/document.html", r=report, pdf=pdf, css=css, visit_link=visit_link,
                           patient_link=patient_link, link_note=link_note)
    if not pdf:
        return html.encode("utf-8")
    from .pdf import render_pdf
    from .staff import _page_css

    return render_pdf(html, _page_css())


def _study(study_id: str):
    found = studies().get(study_id)
    if found is None:
        abort(404)
    return found


def _as_of() -> dt.date | None:
    value = request.args.get("as_of")
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        abort(404)


def _links(external: bool, summaries: bool = True) -> tuple[LinkFn, LinkFn]:
    """Links to the staff pages a number came from; no link to a summary the reader may not open."""

    def visit_link(patient_id: str, visit_id: str | None) -> str | None:
        if not visit_id or not summaries:
            return None
        return url_for("staff.summary", patient_id=patient_id, visit_id=visit_id, _external=external)

    def patient_link(patient_id: str) -> str:
        return url_for("staff.patient", patient_id=patient_id, _external=external)

    return visit_link, patient_link


@bp.get("/")
@staff_required(*ROLES)
def index():
    return render_template("studies/index.html", studies=list(studies().values()))


@bp.get("/<study_id>")
@staff_required(*ROLES)
def overview(study_id: str):
    study = _study(study_id)
    report = build_report(catalog(), study, current_language(), _as_of())
    # Summaries are clinical pages (nurses and physicians); an administrator sees the numbers without dead links.
    visit_link, patient_link = _links(external=False, summaries=sessions.current("staff")["role"] in SUMMARY_ROLES)
    return render_template("studies/overview.html", r=report, pdf=False, visit_link=visit_link,
                           patient_link=patient_link, link_note=None, as_of_param=request.args.get("as_of"))


@bp.get("/<study_id>/report.<fmt>")
@staff_required(*ROLES)
def download(study_id: str, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    study = _study(study_id)
    report = build_report(catalog(), study, current_language(), _as_of())
    visit_link, patient_link = _links(external=True)
    body = render_report(report, fmt, visit_link, patient_link,
                         _("The links open the patients' pages in pro-app for staff who are logged in."))
    catalog().store.audit(g.actor, "export", "study-report", study.id, format=fmt, as_of=report.as_of.isoformat())
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{study.id}-{report.as_of.isoformat()}")
    suffix = "analysis.csv" if fmt == "csv" else f"report.{fmt}"
    return Response(body, mimetype=FORMATS[fmt].split(";")[0], content_type=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}-{suffix}"'})
