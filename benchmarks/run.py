"""Run every benchmark and print one JSON object per figure.

    python -m benchmarks            # the figures in docs/performance.md (a few minutes)
    python -m benchmarks --quick    # every figure, small, in seconds (the test suite runs this)
    python -m benchmarks --only save_history,visits,sqlite,floor,load
    python -m benchmarks --only backends_save,backends_reads,backends_summary,backends_export,backends_load,multi_server
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from . import backends
from .hot_path import append_fsync_floor, save_history, sqlite_reference, visits_and_registration
from .load import ALL_PATIENT_FORMS, FILLED, percentile, run_load
from .seed import VISIT_QUESTIONNAIRES, load_questionnaires, plain_tinydb_file, sample_answers, seed_folder, seed_study

__all__ = ["main", "FIGURES"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
RESPONSES_PER_PATIENT = 25  # five visits of five questionnaires: a patient's first year or two


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _summary(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": _ms(statistics.median(seconds)), "p95_ms": _ms(percentile(seconds, 95)), "n": len(seconds)}


# ---------------------------------------------------------------- saving scales with the data


def save_scaling(work: Path, quick: bool) -> list[dict[str, Any]]:
    """One response saved (start, one page of answers, complete) with little and with much stored data."""
    from tinydb import TinyDB

    from pro_app.storage import TinyDBStore as Store

    questionnaires = load_questionnaires()
    large_n = 2_500 if quick else 50_000
    saves = 10 if quick else 50
    per_visit = len(VISIT_QUESTIONNAIRES)
    measured = 4  # both folders get saves spread over the same number of patients
    open_visits = -(-saves // (measured * per_visit))
    small = seed_folder(work / "small", questionnaires, patients=100 // RESPONSES_PER_PATIENT,
                        responses_per_patient=RESPONSES_PER_PATIENT, open_visits=open_visits, seed=1)
    started = time.perf_counter()
    large = seed_folder(work / "large", questionnaires, patients=large_n // RESPONSES_PER_PATIENT,
                        responses_per_patient=RESPONSES_PER_PATIENT, open_visits=open_visits, seed=2)
    seed_seconds = time.perf_counter() - started
    # Ten years of one patient's visits: the file a save rewrites is that patient's, so this is what grows.
    heavy = seed_folder(work / "heavy", questionnaires, patients=measured, responses_per_patient=10 * RESPONSES_PER_PATIENT,
                        open_visits=open_visits, seed=5)
    rng = random.Random(3)
    plan = [(k % measured, k // (measured * per_visit), (k // measured) % per_visit) for k in range(saves)]
    answers = {qid: sample_answers(q, rng) for qid, q in questionnaires.items()}

    def one_save(store: Store, folder, patient_no: int, visit_no: int, q_no: int) -> float:
        patient = folder.patients[patient_no]["id"]
        visit = folder.open_visits[patient][visit_no]
        q = questionnaires[VISIT_QUESTIONNAIRES[q_no]]
        t0 = time.perf_counter()
        response = store.start_response(patient, visit, q, "benchmark", "sv")
        store.save_answers(patient, response["id"], "benchmark", answers[q.id], page=len(q.pages))
        store.complete_response(patient, response["id"], "benchmark")
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    stores = {"large": Store(large.root)}  # a store of layout 2 migrates the seeded folder here
    open_seconds = time.perf_counter() - t0
    stores.update(small=Store(small.root), heavy=Store(heavy.root))
    timings: dict[str, list[float]] = {"small": [], "large": [], "heavy": []}
    for step in plan:  # interleaved, so disk and CPU noise hits both sides alike
        timings["small"].append(one_save(stores["small"], small, *step))
        timings["large"].append(one_save(stores["large"], large, *step))
        timings["heavy"].append(one_save(stores["heavy"], heavy, *step))
    ratio = statistics.median(timings["large"]) / statistics.median(timings["small"])

    # The same responses in one plain TinyDB file (JSONStorage, no fsync): every insert rewrites everything.
    def plain_inserts(folder, name: str, repeats: int) -> tuple[list[float], int, Path]:
        path = work / name
        docs = plain_tinydb_file(path, folder)
        db = TinyDB(path)
        table = db.table("responses")
        template = dict(table.all()[0])
        seconds = []
        for _ in range(repeats):
            doc = {**template, "id": os.urandom(16).hex()}
            t0 = time.perf_counter()
            table.insert(doc)
            seconds.append(time.perf_counter() - t0)
        db.close()
        return seconds, docs, path

    plain_small, _, _ = plain_inserts(small, "plain-small.json", 10 if quick else 50)
    plain, plain_docs, plain_path = plain_inserts(large, "plain-large.json", 3 if quick else 5)
    return [{
        "figure": "save_scaling",
        "what": "Store.start_response + save_answers + complete_response (3 fsynced writes + audit), median",
        "responses_small": small.responses, "responses_large": large.responses,
        "patients_large": len(large.patients), "responses_per_patient": RESPONSES_PER_PATIENT,
        "small": _summary(timings["small"]), "large": _summary(timings["large"]),
        "ratio_large_to_small": round(ratio, 3), "limit": 1.5, "ok": ratio < 1.5,
        "one_patient_with_ten_years": {"responses_of_that_patient": 10 * RESPONSES_PER_PATIENT,
                                       **_summary(timings["heavy"]),
                                       "ratio_to_small": round(statistics.median(timings["heavy"])
                                                               / statistics.median(timings["small"]), 3)},
        "seed_seconds": round(seed_seconds, 1),
        "data_folder_mb": round(sum(p.stat().st_size for p in large.root.rglob("*")
                                    if p.is_file() and "layout-1" not in p.parts) / 1e6, 1),
        "open_store_s": round(open_seconds, 2),  # with layout 2: the migration of the seeded folder
    }, {
        "figure": "plain_tinydb_insert",
        "what": "TinyDB JSONStorage, one db.json holding every response, insert one (no fsync), median",
        "responses": plain_docs, "db_json_mb": round(plain_path.stat().st_size / 1e6, 1),
        "insert": _summary(plain),
        "insert_with_100_responses": _summary(plain_small),
        "ratio_large_to_small": round(statistics.median(plain) / statistics.median(plain_small), 1),
        "ratio_plain_to_store_save": round(statistics.median(plain) / statistics.median(timings["large"]), 1),
    }]


# ---------------------------------------------------------------- rendering and scoring


def _app(data_dir: Path):
    os.environ["PRO_APP_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("PRO_APP_SECRET_KEY", "benchmark-only")
    from pro_app import create_app

    return create_app({"SESSION_COOKIE_SECURE": False})


def render_and_score(work: Path, quick: bool) -> list[dict[str, Any]]:
    import re

    from pro_app.auth import hash_password
    from pro_app.scoring import score

    questionnaires = load_questionnaires()
    folder = seed_folder(work / "render", questionnaires, patients=4, responses_per_patient=RESPONSES_PER_PATIENT,
                         open_visits=1)
    app = _app(folder.root)
    store = app.extensions["pro_app"].store
    store.create_user("bench", hash_password("benchmark password 1"), "nurse", "benchmark")
    client = app.test_client()
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    page = client.get("/login")
    client.post("/login", data={"csrf_token": token.search(page.text).group(1), "username": "bench",
                                "password": "benchmark password 1"})
    patient = folder.patients[0]["id"]
    visit = folder.open_visits[patient][0]
    page = client.get(f"/staff/patients/{patient}")
    client.post(f"/staff/patients/{patient}/visits/{visit}/tablet",
                data={"csrf_token": token.search(page.text).group(1), "language": "sv"})
    sf36 = questionnaires["sf36"]
    client.get("/tablet/q/sf36")
    repeats = 5 if quick else 30
    seconds: list[float] = []
    per_page: dict[int, float] = {}
    for n in range(len(sf36.pages)):
        page_seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            response = client.get(f"/tablet/q/sf36/p/{n}")
            page_seconds.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.status_code
        per_page[n] = statistics.median(page_seconds)
        seconds += page_seconds
    answers = sample_answers(sf36, random.Random(4))
    score_seconds = []
    for _ in range(100 if quick else 2000):
        t0 = time.perf_counter()
        score(sf36, answers)
        score_seconds.append(time.perf_counter() - t0)
    slowest = max(per_page, key=per_page.get)
    return [{
        "figure": "render_sf36_page",
        "what": "GET /tablet/q/sf36/p/<n> through the Flask test client, every page of the SF-36",
        "pages": len(sf36.pages), **_summary(seconds),
        "slowest_page": slowest, "slowest_page_median_ms": _ms(per_page[slowest]),
    }, {
        "figure": "score_sf36",
        "what": "pro_app.scoring.score(sf36, answers): eight scales and two summaries",
        **_summary(score_seconds),
    }]


# ---------------------------------------------------------------- startup and memory

STARTUP = """
import json, os, resource, sys, time
t0 = time.perf_counter()
import pro_app
from pro_app import create_app
t1 = time.perf_counter()
app = create_app({"SESSION_COOKIE_SECURE": False})
t2 = time.perf_counter()
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
store = app.extensions["pro_app"].store
after_start = rss()
patients = store.list_patients()
t3 = time.perf_counter()
for p in patients[:50]:
    store.list_responses(p["id"])
print(json.dumps({"import_s": t1 - t0, "create_app_s": t2 - t1, "rss_after_start_mb": after_start,
                  "list_patients_ms": (t3 - t2) * 1000, "patients": len(patients),
                  "rss_after_reads_mb": rss(), "max_rss_mb": peak()}))
"""


def startup(work: Path, quick: bool) -> list[dict[str, Any]]:
    large = work / "large"
    if not large.exists():
        seed_folder(large, load_questionnaires(), patients=(2_500 if quick else 50_000) // RESPONSES_PER_PATIENT,
                    responses_per_patient=RESPONSES_PER_PATIENT)
    responses = (2_500 if quick else 50_000) // RESPONSES_PER_PATIENT * RESPONSES_PER_PATIENT
    env = {**os.environ, "PRO_APP_DATA_DIR": str(large), "PRO_APP_SECRET_KEY": "benchmark-only",
           "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(1 if quick else 3):
        out = subprocess.run([sys.executable, "-c", STARTUP], env=env, cwd=ROOT, capture_output=True, text=True,
                             check=True)
        runs.append(json.loads(out.stdout))
    best = min(runs, key=lambda r: r["create_app_s"])
    return [{
        "figure": "startup_memory",
        "what": "fresh process: import pro_app, create_app(), list every patient, read 50 patients' responses",
        "responses_stored": responses, "patients": best["patients"],
        "import_ms": _ms(best["import_s"]), "create_app_ms": _ms(best["create_app_s"]),
        "list_patients_ms": round(best["list_patients_ms"], 1),
        "rss_after_start_mb": round(best["rss_after_start_mb"], 1),
        "rss_after_reads_mb": round(best["rss_after_reads_mb"], 1),
        "max_rss_mb": round(best["max_rss_mb"], 1),
        "runs": len(runs),
    }]


# ---------------------------------------------------------------- the study report


def study_report(work: Path, quick: bool) -> list[dict[str, Any]]:
    """The anakinra study's report (every visit, every form answered) for 200 patients x 5 visits."""
    import datetime as dt

    from flask_babel import force_locale

    from pro_app.catalog import Catalog

    from pro_app.report import build_report
    from pro_app.studies import load_studies
    from pro_app.study_pages import render_report

    questionnaires = load_questionnaires()
    studies, _warnings = load_studies(ROOT / "studies", questionnaires)
    study = studies["anakinra"]
    patients = 20 if quick else 200
    root = work / "study"
    seed_study(root, questionnaires, study, patients=patients,
               baseline=dt.datetime(2024, 1, 8, 9, tzinfo=dt.timezone.utc))
    app = _app(root)
    cat = app.extensions["pro_app"]
    as_of = dt.date(2025, 3, 1)
    runs: list[dict[str, float]] = []
    for _ in range(1 if quick else 3):
        with app.test_request_context(), force_locale("sv"):
            t0 = time.perf_counter()
            report = build_report(Catalog(cat.questionnaires, cat.store), study, "sv", as_of)
            t1 = time.perf_counter()
            html = render_report(report, "html")
            t2 = time.perf_counter()
            csv_text = render_report(report, "csv")
            t3 = time.perf_counter()
        runs.append({"build": t1 - t0, "html": t2 - t1, "csv": t3 - t2, "html_mb": len(html) / 1e6,
                     "csv_rows": csv_text.count(b"\n") - 1})
    with app.test_request_context(), force_locale("sv"):
        t0 = time.perf_counter()
        pdf = render_report(report, "pdf")
        pdf_s = time.perf_counter() - t0
    best = min(runs, key=lambda r: r["build"] + r["html"])
    responses = sum(len(cat.store.list_responses(p["id"])) for p in cat.store.list_patients())
    total = best["build"] + best["html"]
    return [{
        "figure": "study_report",
        "what": "build_report + the HTML report (cohort table, tests, responders, plots, listings), anakinra study, "
                "a fresh catalog each run; pdf_s: the same report through WeasyPrint",
        "patients": patients, "visits": len(study.visits), "responses": responses,
        "build_ms": _ms(best["build"]), "html_ms": _ms(best["html"]), "csv_ms": _ms(best["csv"]),
        "report_s": round(total, 2), "limit_s": 10, "ok": total < 10,
        "html_mb": round(best["html_mb"], 2), "csv_rows": best["csv_rows"],
        "pdf_s": round(pdf_s, 2), "pdf_mb": round(len(pdf) / 1e6, 2),
        "runs": len(runs),
    }]


# ---------------------------------------------------------------- load


LOAD_HISTORY = 72  # responses per patient: about three years of visits


def load(work: Path, quick: bool) -> list[dict[str, Any]]:
    """20 tablets without and with history, alternating (three times in the full run): throughput must not drop."""
    if quick:
        return [run_load(work, tablets=4, rounds=1, workers=2, time_limit=60, history=history)
                for history in (0, 7)]
    runs = []
    for attempt in range(3):
        for history in ((0, LOAD_HISTORY) if attempt % 2 == 0 else (LOAD_HISTORY, 0)):
            runs.append(run_load(work, tablets=20, rounds=2, workers=3, time_limit=300, history=history,
                                 filled=ALL_PATIENT_FORMS))
    # Once more with py-spy on the workers: sampling slows the server, so this run's rate is not compared.
    runs.append(run_load(work, tablets=20, rounds=1, workers=3, time_limit=300, history=LOAD_HISTORY,
                         filled=ALL_PATIENT_FORMS, profile=True))
    return runs


def targets(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets, checked on the figures of this run."""
    by = {}
    for f in figures:
        by.setdefault(f["figure"], []).append(f)
    checks: dict[str, Any] = {}
    if "save_history" in by:
        f = by["save_history"][0]
        checks["save_600_within_1.5x_of_7"] = {"ratio": f["ratio"], "ok": f["ok"]}
    if "visits_and_registration" in by:
        f = by["visits_and_registration"][0]
        checks["add_visit_and_register_many_within_1.5x_of_few"] = {**f["ratio_many_to_few"], "ok": f["ok"]}
    if "save_history" in by and "append_fsync_floor" in by:
        save = by["save_history"][0]["by_history"]["7"]["page_save"]["median_ms"]
        floor = by["append_fsync_floor"][0]["median_ms"]
        checks["save_within_10x_of_append_fsync"] = {"ratio": round(save / floor, 1), "ok": save / floor <= 10}
    if "load_http" in by:
        runs = by["load_http"]
        rate = {h: statistics.median([r["requests_per_second"] for r in runs
                                      if r["history_responses_per_patient"] == h and not r.get("profile")])
                for h in {r["history_responses_per_patient"] for r in runs}}
        without, with_history = rate[min(rate)], rate[max(rate)]
        profiled = [r["profile"] for r in runs if r.get("profile")]
        checks["throughput_with_history_at_least_without"] = {
            "requests_per_second_without": without, "with_history": with_history,
            "ok": with_history >= without * 0.97}  # 3 %: the run-to-run noise of this shared machine
        if profiled:
            checks["no_request_time_in_a_lock_poll"] = {**profiled[0], "ok": profiled[0]["lock_poll_share"] == 0}
    return {"figure": "targets", **checks}


FIGURES: dict[str, Callable[[Path, bool], list[dict[str, Any]]]] = {
    "save_history": save_history,
    "visits": visits_and_registration,
    "sqlite": sqlite_reference,
    "floor": append_fsync_floor,
    "save_scaling": save_scaling,
    "render": render_and_score,
    "startup": startup,
    "study_report": study_report,
    "load": load,
    **backends.FIGURES,  # TinyDB and PostgreSQL side by side (issue 11)
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: every figure in seconds")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(FIGURES)}")
    parser.add_argument("--out", type=Path, default=None, help="where to write all figures (default results/latest.json)")
    args = parser.parse_args(argv)
    chosen = [f for f in args.only.split(",") if f] or list(FIGURES)
    unknown = [f for f in chosen if f not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pro-app-bench-") as tmp:
        work = Path(tmp)
        try:
            for name in chosen:
                for figure in FIGURES[name](work, args.quick):
                    figure["quick"] = args.quick
                    print(json.dumps(figure, ensure_ascii=False), flush=True)
                    results.append(figure)
        finally:
            backends.Postgres.stop()
    summary = targets(results)
    summary["quick"] = args.quick
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    results.append(summary)
    out = args.out or RESULTS / ("quick.json" if args.quick else "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    out.write_text(json.dumps({"machine": machine, "figures": results}, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
