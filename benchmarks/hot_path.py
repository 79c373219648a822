"""The hot path (issue 13): what a page save, a new visit and a registration cost as data grows.

* ``save_history``: one page of answers saved (``Store.save_answers``, stamped as the tablet does)
  for patients with 7, 72, 200, 600 and 1,200 stored responses of their own; starting and
  completing a response are timed apart.
* ``visits_and_registration``: adding a visit, registering a patient, looking one up and the
  staff patient list (``GET /staff/``, the whole page) with 15 and with 5,000 patients.
* ``sqlite_reference``: the same page save in SQLite with the same durability (WAL,
  ``synchronous=FULL``, the audit row in the same transaction), side by side.
* ``append_fsync_floor``: one append of an audit-sized line plus ``fsync`` on the same disk:
  no durable save can cost less.

Only the store's public methods are used, and the data is seeded in layout 1, so the same code
measures ``main`` (before) and a branch (after).
"""
from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from .seed import load_questionnaires, sample_answers, seed_folder

__all__ = ["save_history", "visits_and_registration", "sqlite_reference", "append_fsync_floor", "HISTORIES", "summary"]

HISTORIES = (7, 72, 200, 600, 1200)
SAVED = ("patient_global", "haq", "sf36", "fss", "map")  # what a visit asks of the patient on the tablet


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(seconds) * 1000, 3),
            "p95_ms": round(percentile(seconds, 95) * 1000, 3), "n": len(seconds)}


def _pages(q: Any, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers one page at a time, as the tablet posts them."""
    pages = []
    for page in q.pages:
        ids = [aid for item in page.items for aid in item.answer_ids()]
        pages.append({aid: answers[aid] for aid in ids if aid in answers})
    return [p for p in pages if p]


def save_history(work: Path, quick: bool) -> list[dict[str, Any]]:
    from pro_app.storage import Stamp
    from pro_app.storage import TinyDBStore as Store

    questionnaires = load_questionnaires()
    histories = (7, 72) if quick else HISTORIES
    patients_each, open_visits, saves_per_response = (1, 1, 2) if quick else (2, 3, 3)
    rng = random.Random(13)
    folders = {h: seed_folder(work / f"history-{h}", questionnaires, patients=patients_each, responses_per_patient=h,
                              open_visits=open_visits, seed=h) for h in histories}
    stores = {h: Store(folder.root) for h, folder in folders.items()}
    answers = {qid: _pages(questionnaires[qid], sample_answers(questionnaires[qid], rng)) for qid in SAVED}
    timings: dict[int, dict[str, list[float]]] = {h: {"start": [], "save": [], "complete": []} for h in histories}
    plan = [(p, v, qid) for p in range(patients_each) for v in range(open_visits) for qid in SAVED]
    for patient_no, visit_no, qid in plan:
        for h in histories:  # interleaved, so disk and CPU noise hits every history alike
            store, folder = stores[h], folders[h]
            patient = folder.patients[patient_no]["id"]
            visit = folder.open_visits[patient][visit_no]
            q = questionnaires[qid]
            t0 = time.perf_counter()
            response = store.start_response(patient, visit, q, "patient:benchmark", "sv")
            timings[h]["start"].append(time.perf_counter() - t0)
            revision = response.get("revision", 0)
            for n in range(saves_per_response):
                page = answers[qid][n % len(answers[qid])]
                t0 = time.perf_counter()
                saved = store.save_answers(patient, response["id"], "patient:benchmark", page, page=n + 1,
                                           language="sv", stamp=Stamp(revision, n + 1))
                timings[h]["save"].append(time.perf_counter() - t0)
                revision = saved["revision"]
            t0 = time.perf_counter()
            store.complete_response(patient, response["id"], "patient:benchmark", expected_revision=revision)
            timings[h]["complete"].append(time.perf_counter() - t0)
    base = statistics.median(timings[histories[0]]["save"])
    rows = {str(h): {"page_save": summary(t["save"]), "start_response": summary(t["start"]),
                     "complete_response": summary(t["complete"]),
                     "page_save_ratio_to_7": round(statistics.median(t["save"]) / base, 2)}
            for h, t in timings.items()}
    target = str(600 if 600 in histories else histories[-1])
    ratio = rows[target]["page_save_ratio_to_7"]
    return [{"figure": "save_history",
             "what": "Store.save_answers (one page, stamped) for a patient with N stored responses of their own; "
                     "start_response and complete_response apart",
             "by_history": rows, "target": f"page save at {target} within 1.5x of 7", "ratio": ratio,
             "ok": ratio <= 1.5}]


def visits_and_registration(work: Path, quick: bool) -> list[dict[str, Any]]:
    from pro_app import create_app
    from pro_app.auth import hash_password
    from pro_app.storage import TinyDBStore as Store

    questionnaires = load_questionnaires()
    sizes = (15, 500) if quick else (15, 5_000)
    repeats = 10 if quick else 30
    folders = {n: seed_folder(work / f"clinic-{n}", questionnaires, patients=n, responses_per_patient=5, seed=n)
               for n in sizes}
    opened = {}
    stores = {}
    for n, folder in folders.items():
        t0 = time.perf_counter()
        stores[n] = Store(folder.root)
        opened[n] = time.perf_counter() - t0
    timings: dict[int, dict[str, list[float]]] = {n: {"add_visit": [], "register": [], "find": [], "get_patient": []}
                                                  for n in sizes}
    for k in range(repeats):
        for n in sizes:
            store, folder = stores[n], folders[n]
            patient = folder.patients[k % len(folder.patients)]
            t0 = time.perf_counter()
            store.add_visit(patient["id"], "staff:benchmark", key=f"extra-{k}", label={"sv": "Extra", "en": "Extra"},
                            questionnaires=list(SAVED))
            timings[n]["add_visit"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            store.create_patient(f"NEW-{k:04d}", "staff:benchmark")
            timings[n]["register"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert store.find_patient(patient["study_code"])["id"] == patient["id"]
            timings[n]["find"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            store.get_patient(patient["id"])
            timings[n]["get_patient"].append(time.perf_counter() - t0)

    # The staff patient list as a whole page (its first 50 patients since issue 11): login, then GET /staff/.
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    pages: dict[int, list[float]] = {}
    for n, folder in folders.items():
        os.environ["PRO_APP_DATA_DIR"] = str(folder.root)
        os.environ.setdefault("PRO_APP_SECRET_KEY", "benchmark-only")
        app = create_app({"SESSION_COOKIE_SECURE": False})
        app.extensions["pro_app"].store.create_user("bench", hash_password("benchmark password 1"), "nurse", "benchmark")
        client = app.test_client()
        page = client.get("/login")
        client.post("/login", data={"csrf_token": token.search(page.text).group(1), "username": "bench",
                                    "password": "benchmark password 1"})
        seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            response = client.get("/staff/")
            seconds.append(time.perf_counter() - t0)
            assert response.status_code == 200 and folder.patients[0]["study_code"] in response.text
        pages[n] = seconds
    small, large = sizes
    ratios = {what: round(statistics.median(timings[large][what]) / statistics.median(timings[small][what]), 2)
              for what in ("add_visit", "register")}
    return [{"figure": "visits_and_registration",
             "what": "Store.add_visit, Store.create_patient, find_patient, get_patient, and GET /staff/ (the "
                     "patient list's first page of 50, Flask test client) with few and with many patients (5 responses each)",
             "by_patients": {str(n): {**{what: summary(t) for what, t in timings[n].items()},
                                      "staff_list_page": summary(pages[n]), "open_store_s": round(opened[n], 2)}
                             for n in sizes},
             "ratio_many_to_few": ratios, "target": f"add visit and register at {large} within 1.5x of {small}",
             "ok": all(r <= 1.5 for r in ratios.values())}]


def sqlite_reference(work: Path, quick: bool) -> list[dict[str, Any]]:
    """A page save in SQLite: WAL, synchronous=FULL, the response and its audit row in one transaction."""
    questionnaires = load_questionnaires()
    histories = (7, 72) if quick else HISTORIES
    repeats = 20 if quick else 100
    path = work / "reference.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE response (id TEXT PRIMARY KEY, patient TEXT, visit TEXT, questionnaire TEXT, data TEXT)")
    db.execute("CREATE INDEX response_patient ON response (patient)")
    db.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT, patient TEXT, entry TEXT)")
    rng = random.Random(7)
    answers = {qid: sample_answers(questionnaires[qid], rng) for qid in SAVED}
    db.execute("BEGIN")
    for h in histories:
        for n in range(h):
            qid = SAVED[n % len(SAVED)]
            doc = {"answers": answers[qid], "status": "completed", "revision": 3, "stamp": [3, 0]}
            db.execute("INSERT INTO response VALUES (?, ?, ?, ?, ?)", (f"{h}-{n}", f"p{h}", f"v{n // 5}", qid,
                                                                          json.dumps(doc)))
    db.execute("COMMIT")
    pages = _pages(questionnaires["sf36"], answers["sf36"])
    timings: dict[int, list[float]] = {h: [] for h in histories}
    for k in range(repeats):
        for h in histories:
            rid = f"{h}-{(k * 5 + 2) % h}"
            page = pages[k % len(pages)]
            t0 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            (data,) = db.execute("SELECT data FROM response WHERE id = ?", (rid,)).fetchone()
            doc = json.loads(data)
            changes = {aid: {"from": doc["answers"].get(aid), "to": v} for aid, v in page.items()}
            doc["answers"].update(page)
            doc["revision"] += 1
            db.execute("UPDATE response SET data = ? WHERE id = ?", (json.dumps(doc), rid))
            db.execute("INSERT INTO audit (at, patient, entry) VALUES (?, ?, ?)",
                       (time.time(), f"p{h}", json.dumps({"action": "update", "id": rid, "answers": changes})))
            db.execute("COMMIT")
            timings[h].append(time.perf_counter() - t0)
    db.close()
    return [{"figure": "sqlite_reference",
             "what": "SQLite (WAL, synchronous=FULL): read a response, merge one page, update it and insert its "
                     "audit row in one transaction, for a patient with N responses",
             "by_history": {str(h): summary(t) for h, t in timings.items()}}]


def append_fsync_floor(work: Path, quick: bool) -> list[dict[str, Any]]:
    """One audit-sized line appended and fsynced: the least a durable save can cost on this disk."""
    line = (json.dumps({"at": "2025-01-01T00:00:00.000+00:00", "actor": "patient:tablet", "action": "update",
                        "entity": "response", "id": "0" * 32, "answers": {"PtGA": {"from": 20.0, "to": 80.0}}})
            + "\n").encode()
    fd = os.open(work / "floor.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    seconds = []
    try:
        for _ in range(50 if quick else 300):
            t0 = time.perf_counter()
            os.write(fd, line)
            os.fsync(fd)
            seconds.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
    return [{"figure": "append_fsync_floor", "what": f"os.write of one {len(line)}-byte line (O_APPEND) + os.fsync",
             **summary(seconds)}]
