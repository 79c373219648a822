"""Build a data folder directly on disk, fast.

Going through ``Store`` costs fsyncs per write, so 50,000 responses would take many minutes.
The files are written in layout 1 (``index.json`` and one TinyDB file per patient, the layout
before issue 13), which every version of the store reads: today's store migrates such a folder
when it opens it, and an older one uses it as it is. So the same seed serves a benchmark of
``main`` and of a branch, and opening it measures the migration too.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pro_app.config import questionnaire_dir
from pro_app.definitions import Questionnaire, load_directory
from pro_app.storage import new_id

__all__ = ["VISIT_QUESTIONNAIRES", "SeededFolder", "load_questionnaires", "sample_answers", "seed_folder", "seed_study"]

# What a typical follow-up visit asks of a myositis patient.
VISIT_QUESTIONNAIRES = ("patient_global", "haq", "sf36", "fss", "mfi2")


@dataclass
class SeededFolder:
    root: Path
    patients: list[dict[str, Any]]
    # Per patient id: visits created without responses, ready to be answered by a benchmark.
    open_visits: dict[str, list[str]]
    responses: int


def load_questionnaires() -> dict[str, Questionnaire]:
    return load_directory(questionnaire_dir())


def sample_answers(q: Questionnaire, rng: random.Random) -> dict[str, Any]:
    """A plausible complete set of answers: a valid code or value for every answer id."""
    answers: dict[str, Any] = {}
    for aid in q.answer_ids():
        options = q.options_for(aid)
        if options:
            answers[aid] = rng.choice(options).code
        else:
            answers[aid] = round(rng.uniform(0, 100), 1)
    return answers


def _stamp(base: datetime, days: float) -> str:
    return (base + timedelta(days=days)).isoformat(timespec="milliseconds")


def seed_folder(root: Path, questionnaires: dict[str, Questionnaire], *, patients: int, responses_per_patient: int,
                open_visits: int = 0, visit_questionnaires: tuple[str, ...] = VISIT_QUESTIONNAIRES,
                seed: int = 1) -> SeededFolder:
    """``patients`` patients, each with ``responses_per_patient`` completed responses (five per visit)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "patients").mkdir(exist_ok=True)
    (root / "definitions").mkdir(exist_ok=True)
    qs = [questionnaires[qid] for qid in visit_questionnaires if qid in questionnaires]
    for q in qs:
        (root / "definitions" / (q.definition_hash.split(":")[-1] + ".json")).write_text(json.dumps(
            {"id": q.id, "version": q.version, "hash": q.definition_hash,
             "definition": q.model_dump(mode="json", by_alias=True)}, ensure_ascii=False))
    # Precomputed answer sets keep seeding fast; their size is what matters.
    answer_pool = {q.id: [sample_answers(q, rng) for _ in range(8)] for q in qs}
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    index: dict[str, Any] = {}
    seeded: list[dict[str, Any]] = []
    ready: dict[str, list[str]] = {}
    total = 0
    for p in range(patients):
        pid = new_id()
        patient = {"id": pid, "study_code": f"B-{p:05d}", "study": None, "created_at": _stamp(base, 0),
                   "created_by": "staff:seed"}
        index[str(p + 1)] = patient
        seeded.append(patient)
        visits: dict[str, Any] = {}
        responses: dict[str, Any] = {}
        n_visits = -(-responses_per_patient // len(qs)) if responses_per_patient else 0
        for v in range(n_visits + open_visits):
            vid = new_id()
            answered = v < n_visits
            visits[str(v + 1)] = {
                "id": vid, "patient": pid, "key": f"visit-{v}", "label": {"sv": f"Besök {v}", "en": f"Visit {v}"},
                "due": None, "questionnaires": [q.id for q in qs], "clinician_forms": [],
                "created_at": _stamp(base, v * 60), "created_by": "staff:seed", "date": None,
            }
            if not answered:
                ready.setdefault(pid, []).append(vid)
                continue
            for q in qs:
                if len(responses) >= responses_per_patient:
                    break
                at = _stamp(base, v * 60 + len(responses) / 1000)
                responses[str(len(responses) + 1)] = {
                    "id": new_id(), "patient": pid, "visit": vid, "questionnaire": q.id, "version": q.version,
                    "definition_hash": q.definition_hash, "status": "completed",
                    "answers": rng.choice(answer_pool[q.id]), "item_meta": {}, "page": len(q.pages),
                    "language": "sv", "started_at": at, "updated_at": at, "completed_at": at,
                    "started_by": "patient:tablet(handed over by staff:seed)",
                    "completed_by": "patient:tablet(handed over by staff:seed)",
                }
        total += len(responses)
        (root / "patients" / f"{pid}.json").write_text(
            json.dumps({"visits": visits, "responses": responses}, ensure_ascii=False, separators=(",", ":")),
            encoding="utf-8")
    (root / "index.json").write_text(json.dumps({"patients": index}, ensure_ascii=False, separators=(",", ":")),
                                     encoding="utf-8")
    return SeededFolder(root, seeded, ready, total)


def plain_tinydb_file(path: Path, folder: SeededFolder) -> int:
    """Every response of a seeded folder in one TinyDB ``db.json``: the design partitioning avoids."""
    docs: dict[str, Any] = {}
    seeded = folder.root / "patients"
    if (folder.root / "layout-1").exists():  # a store of layout 2 has opened it and kept the seed aside
        seeded = folder.root / "layout-1" / "patients"
    for patient in folder.patients:
        data = json.loads((seeded / f"{patient['id']}.json").read_text(encoding="utf-8"))
        for doc in data["responses"].values():
            docs[str(len(docs) + 1)] = doc
    path.write_text(json.dumps({"responses": docs}, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return len(docs)


def seed_study(root: Path, questionnaires: dict[str, Questionnaire], study: Any, *, patients: int,
               baseline: datetime, seed: int = 1) -> list[dict[str, Any]]:
    """``patients`` patients enrolled in ``study`` at ``baseline``, every visit of its schedule
    answered with every form it plans (plausible random answers), in the store's format."""
    from pro_app.studies import due_date

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "patients").mkdir(exist_ok=True)
    (root / "definitions").mkdir(exist_ok=True)
    wanted = {qid for v in study.visits for qid in list(v.questionnaires) + list(v.clinician_forms)}
    qs = {qid: questionnaires[qid] for qid in sorted(wanted) if qid in questionnaires}
    for q in qs.values():
        (root / "definitions" / (q.definition_hash.split(":")[-1] + ".json")).write_text(json.dumps(
            {"id": q.id, "version": q.version, "hash": q.definition_hash,
             "definition": q.model_dump(mode="json", by_alias=True)}, ensure_ascii=False))
    answer_pool = {qid: [sample_answers(q, rng) for _ in range(8)] for qid, q in qs.items()}
    index: dict[str, Any] = {}
    seeded = []
    for p in range(patients):
        pid = new_id()
        patient = {"id": pid, "study_code": f"S-{p:04d}", "study": study.id, "created_at": _stamp(baseline, 0),
                   "created_by": "staff:seed"}
        index[str(p + 1)] = patient
        seeded.append(patient)
        visits: dict[str, Any] = {}
        responses: dict[str, Any] = {}
        for v, plan in enumerate(study.visits):
            vid = new_id()
            due = due_date(baseline.date(), plan.offset)
            visits[str(v + 1)] = {
                "id": vid, "patient": pid, "key": plan.key, "label": plan.label.model_dump(), "due": due.isoformat(),
                "questionnaires": list(plan.questionnaires), "clinician_forms": list(plan.clinician_forms),
                "created_at": _stamp(baseline, 0), "created_by": "staff:seed", "date": None, "study": study.id,
                "window_days": plan.window_days,
            }
            for qid in list(plan.questionnaires) + list(plan.clinician_forms):
                q = qs.get(qid)
                if q is None:
                    continue
                at = _stamp(datetime.combine(due, datetime.min.time(), tzinfo=timezone.utc), len(responses) / 1000)
                responses[str(len(responses) + 1)] = {
                    "id": new_id(), "patient": pid, "visit": vid, "questionnaire": qid, "version": q.version,
                    "definition_hash": q.definition_hash, "status": "completed",
                    "answers": rng.choice(answer_pool[qid]), "item_meta": {}, "page": len(q.pages),
                    "language": "sv", "started_at": at, "updated_at": at, "completed_at": at,
                    "started_by": "staff:seed", "completed_by": "staff:seed",
                }
        (root / "patients" / f"{pid}.json").write_text(
            json.dumps({"visits": visits, "responses": responses}, ensure_ascii=False, separators=(",", ":")),
            encoding="utf-8")
    (root / "index.json").write_text(json.dumps({"patients": index}, ensure_ascii=False, separators=(",", ":")),
                                     encoding="utf-8")
    return seeded
