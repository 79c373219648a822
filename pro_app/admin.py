"""Blueprint: what administrators look after besides exports: the questionnaire versions in use.

For each loaded questionnaire, every definition the data folder holds (version and hash), how
many responses were answered against each, and a warning where two definitions share one
version number (``pro-app validate`` refuses that before it happens; see ``versions.py``).
"""
from __future__ import annotations

from flask import Blueprint, render_template

from .auth import staff_required
from .catalog import catalog
from .versions import version_usage
from .web import current_language

__all__ = ["bp"]

bp = Blueprint("admin", __name__, url_prefix="/staff/admin")


@bp.get("/questionnaires")
@staff_required("admin")
def questionnaires():
    cat = catalog()
    store = cat.store
    responses = (r for patient in store.list_patients() for r in store.list_responses(patient["id"]))
    snapshots = store.definition_snapshots()
    usage = version_usage(cat.questionnaires.values(), snapshots, responses)
    lang = current_language()
    active = sorted(cat.questionnaires.values(), key=lambda q: (q.audience != "patient", q.title.get(lang)))
    earlier = {}  # stored definitions of questionnaires the app no longer loads, titled from the stored copy
    for snapshot in snapshots:
        if snapshot["id"] not in cat.questionnaires:
            earlier.setdefault(snapshot["id"], snapshot["definition"].get("title") or {})
    return render_template("staff/questionnaires.html", active=active, usage=usage, earlier=earlier)
