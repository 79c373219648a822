"""TinyDB and PostgreSQL side by side (issue 11): the same data, the same operations, one run.

PostgreSQL is a throwaway cluster from Debian's packages with a clinic's durability (fsync and
synchronous commit on, as shipped), on a Unix socket of this machine; each figure's data is
seeded as a TinyDB folder and moved into a new database with ``pro-app db copy`` (its time is a
figure too). Figures:

* ``backends_save``: a response started, answered and completed with 100 and with 50,000 stored;
* ``backends_reads``: with 5,000 patients, looking one up, a page of the patient list, a search,
  and the staff list page as a whole (HTTP through the app);
* ``backends_summary``: the printed summary of a patient's 48th visit;
* ``backends_export``: ``pro-app export`` of 50,000 responses in each format: seconds and peak RSS;
* ``backends_load``: tablets against ``pro-app serve``: one tablet, then 20 with a patient's think
  time between pages and 20 without; p50/p95 of tablet pages against the one tablet's;
* ``multi_server``: two ``pro-app serve`` on two ports against one PostgreSQL, tablets spread over
  both: every acknowledged questionnaire stored exactly once.
"""
from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .load import ALL_PATIENT_FORMS, FILLED, percentile, run_load
from .seed import VISIT_QUESTIONNAIRES, load_questionnaires, sample_answers, seed_folder

__all__ = ["FIGURES", "Postgres"]

ROOT = Path(__file__).resolve().parent.parent
RESPONSES_PER_PATIENT = 25
BACKENDS = ("tinydb", "postgres")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _summary(seconds: list[float]) -> dict[str, Any]:
    return {"median_ms": _ms(statistics.median(seconds)), "p95_ms": _ms(percentile(seconds, 95)), "n": len(seconds)}


class Postgres:
    """One durable throwaway cluster for the whole run, started on first use."""

    cluster: Any = None

    @classmethod
    def database(cls) -> str:
        from pro_app.storage.postgres import upgrade

        if cls.cluster is None:
            sys.path.insert(0, str(ROOT))
            from tests.pg_cluster import Cluster

            cls.cluster = Cluster(durable=True).start()
        url = cls.cluster.create_database()
        upgrade(url)
        return url

    @classmethod
    def stop(cls) -> None:
        if cls.cluster is not None:
            cls.cluster.stop()
            cls.cluster = None


def _both(folder_root: Path) -> dict[str, tuple[str, float]]:
    """The seeded folder's store on each backend: (address, seconds the copy into PostgreSQL took)."""
    from pro_app.storage import TinyDBStore, open_store
    from pro_app.storage.copy import copy_store

    source = TinyDBStore(folder_root)  # brings the seeded (layout 1) folder to today's layout
    url = Postgres.database()
    target = open_store(url)
    t0 = time.perf_counter()
    copy_store(source, target)
    copied = time.perf_counter() - t0
    target.close()
    return {"tinydb": (str(folder_root), 0.0), "postgres": (url, copied)}


# ---------------------------------------------------------------- saving


def backends_save(work: Path, quick: bool) -> list[dict[str, Any]]:
    from pro_app.storage import open_store

    questionnaires = load_questionnaires()
    large_n = 2_500 if quick else 50_000
    saves = 10 if quick else 60
    measured, per_visit = 4, len(VISIT_QUESTIONNAIRES)
    open_visits = -(-saves // (measured * per_visit))
    folders = {
        "small": seed_folder(work / "b-small", questionnaires, patients=100 // RESPONSES_PER_PATIENT,
                             responses_per_patient=RESPONSES_PER_PATIENT, open_visits=open_visits, seed=11),
        "large": seed_folder(work / "b-large", questionnaires, patients=large_n // RESPONSES_PER_PATIENT,
                             responses_per_patient=RESPONSES_PER_PATIENT, open_visits=open_visits, seed=12),
    }
    where = {size: _both(folder.root) for size, folder in folders.items()}
    stores = {(backend, size): open_store(where[size][backend][0]) for size in folders for backend in BACKENDS}
    rng = random.Random(13)
    answers = {qid: sample_answers(q, rng) for qid, q in questionnaires.items()}
    plan = [(k % measured, k // (measured * per_visit), (k // measured) % per_visit) for k in range(saves)]
    timings: dict[tuple[str, str], list[float]] = {key: [] for key in stores}
    for patient_no, visit_no, q_no in plan:  # interleaved: disk and CPU noise hit every side alike
        for (backend, size), store in stores.items():
            folder = folders[size]
            patient = folder.patients[patient_no]["id"]
            visit = folder.open_visits[patient][visit_no]
            q = questionnaires[VISIT_QUESTIONNAIRES[q_no]]
            t0 = time.perf_counter()
            response = store.start_response(patient, visit, q, "benchmark", "sv")
            store.save_answers(patient, response["id"], "benchmark", answers[q.id], page=len(q.pages))
            store.complete_response(patient, response["id"], "benchmark")
            timings[(backend, size)].append(time.perf_counter() - t0)
    for store in stores.values():
        store.close()
    by_backend = {}
    for backend in BACKENDS:
        small, large = timings[(backend, "small")], timings[(backend, "large")]
        by_backend[backend] = {"small": _summary(small), "large": _summary(large),
                               "ratio_large_to_small": round(statistics.median(large) / statistics.median(small), 3)}
    return [{
        "figure": "backends_save",
        "what": "start_response + save_answers + complete_response (each a durable transaction with its audit)",
        "responses_small": folders["small"].responses, "responses_large": folders["large"].responses,
        **by_backend,
        "copy_into_postgres_s": {"small": round(where["small"]["postgres"][1], 2),
                                 "large": round(where["large"]["postgres"][1], 2)},
    }]


# ---------------------------------------------------------------- reads at 5,000 patients


def _logged_in_client(app: Any) -> Any:
    from pro_app.auth import hash_password

    app.extensions["pro_app"].store.create_user("bench", hash_password("benchmark password 1"), "nurse", "benchmark")
    client = app.test_client()
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    page = client.get("/login")
    client.post("/login", data={"csrf_token": token.search(page.text).group(1), "username": "bench",
                                "password": "benchmark password 1"})
    return client


def _app(address: str, data_dir: Path) -> Any:
    from pro_app import create_app

    os.environ.setdefault("PRO_APP_SECRET_KEY", "benchmark-only")
    on_postgres = address.startswith("postgresql://")
    return create_app({"SESSION_COOKIE_SECURE": False, "DATA_DIR": str(data_dir) if on_postgres else address,
                       "DATABASE_URL": address if on_postgres else ""})


def _timed(fn: Any, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return seconds


def backends_reads(work: Path, quick: bool) -> list[dict[str, Any]]:
    questionnaires = load_questionnaires()
    patients = 300 if quick else 5_000
    repeats = 20 if quick else 200
    folder = seed_folder(work / "b-reads", questionnaires, patients=patients, responses_per_patient=1, seed=21)
    where = _both(folder.root)
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        app = _app(where[backend][0], work / f"b-reads-local-{backend}")
        store = app.extensions["pro_app"].store
        client = _logged_in_client(app)
        rng = random.Random(22)
        ids = [p["id"] for p in folder.patients]
        codes = [p["study_code"] for p in folder.patients]
        page_html = client.get("/staff/").text
        csrf = token.search(page_html).group(1)
        last_page = -(-patients // 50)
        out[backend] = {
            "get_patient": _summary(_timed(lambda: store.get_patient(rng.choice(ids)), repeats)),
            "find_patient": _summary(_timed(lambda: store.find_patient(rng.choice(codes)), repeats)),
            "list_page_first": _summary(_timed(lambda: store.patients_page("", 0, 50), repeats)),
            "list_page_last": _summary(_timed(lambda: store.patients_page("", (last_page - 1) * 50, 50), repeats)),
            "search": _summary(_timed(lambda: store.patients_page(f"{rng.randrange(patients):05d}"[:4], 0, 50),
                                      repeats)),
            "http_staff_list": _summary(_timed(lambda: client.get(f"/staff/?page={rng.randrange(1, last_page + 1)}"),
                                               repeats // 4)),
            "http_search": _summary(_timed(lambda: client.post("/staff/patients/search",
                                                               data={"csrf_token": csrf, "q": "B-01"}), repeats // 4)),
        }
        store.close()
    return [{"figure": "backends_reads", "what": "one patient, a page of 50, a search; and the staff list over HTTP",
             "patients": patients, **out, "copy_into_postgres_s": round(where["postgres"][1], 2)}]


# ---------------------------------------------------------------- the summary of a long history


def backends_summary(work: Path, quick: bool) -> list[dict[str, Any]]:
    questionnaires = load_questionnaires()
    visits = 48
    folder = seed_folder(work / "b-summary", questionnaires, patients=1, responses_per_patient=visits * 5,
                         open_visits=0, seed=31)
    where = _both(folder.root)
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        app = _app(where[backend][0], work / f"b-summary-local-{backend}")
        store = app.extensions["pro_app"].store
        client = _logged_in_client(app)
        patient = folder.patients[0]["id"]
        last = store.list_visits(patient)[-1]["id"]
        url = f"/staff/patients/{patient}/visits/{last}/summary"
        assert client.get(url).status_code == 200
        out[backend] = _summary(_timed(lambda: client.get(url), 5 if quick else 30))
        store.close()
    return [{"figure": "backends_summary", "what": "GET the summary page of the 48th visit (240 responses stored)",
             "visits": visits, "responses": folder.responses, **out}]


# ---------------------------------------------------------------- exports


PEAK = """
import atexit, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return line.split()[1]
report = sys.argv.pop(1)
atexit.register(lambda: open(report, "w").write(peak()))
from pro_app.cli import main
main(prog_name="pro-app")
"""


def _run_measured(arguments: list[str], env: dict[str, str], report: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB, the process's own VmHWM: counted from its start, not inherited through fork)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, str(report), *arguments], env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"pro-app {' '.join(arguments)} failed: {done.stderr[-2000:]}")
    return seconds, int(report.read_text()) / 1024


def backends_export(work: Path, quick: bool) -> list[dict[str, Any]]:
    questionnaires = load_questionnaires()
    n = 2_500 if quick else 50_000
    folder = seed_folder(work / "b-export", questionnaires, patients=n // RESPONSES_PER_PATIENT,
                         responses_per_patient=RESPONSES_PER_PATIENT, seed=41)
    where = _both(folder.root)
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        address = where[backend][0]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PRO_APP_SECRET_KEY": "benchmark-only",
               "PRO_APP_DATA_DIR": address if backend == "tinydb" else str(work / "b-export-local")}
        env.pop("PRO_APP_DATABASE_URL", None)
        if backend == "postgres":
            env["PRO_APP_DATABASE_URL"] = address
        out[backend] = {}
        for fmt in ("csv", "csv-long", "fhir", "fhir-ndjson", "codebook"):
            target = work / f"export-{backend}.{fmt}"  # fhir-ndjson: a folder of one file per resource type
            seconds, peak = _run_measured(["export", "--format", fmt, "--out", str(target)], env,
                                          work / "peak.txt")
            files = list(target.iterdir()) if target.is_dir() else [target]
            out[backend][fmt] = {"seconds": round(seconds, 1), "peak_rss_mb": round(peak, 1),
                                 "file_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1)}
            for f in files:
                f.unlink()
            if target.is_dir():
                target.rmdir()
    return [{"figure": "backends_export", "what": "pro-app export --format F --out FILE (a fresh process)",
             "responses": folder.responses, "patients": len(folder.patients), **out,
             "target_peak_rss_mb": 300,
             "ok": all(f["peak_rss_mb"] < 300 for by_fmt in out.values() for f in by_fmt.values())}]


# ---------------------------------------------------------------- tablets


def backends_load(work: Path, quick: bool) -> list[dict[str, Any]]:
    """One tablet, then 20 with think time and 20 without, on each backend."""
    tablets = 3 if quick else 20
    think = 0.2 if quick else 3.0
    filled = FILLED if quick else ALL_PATIENT_FORMS
    history = 7 if quick else 72
    runs = []
    for backend in BACKENDS:
        database = Postgres.database if backend == "postgres" else None
        one = run_load(work, tablets=1, rounds=1, workers=3, time_limit=300, history=history, filled=filled,
                       database=database)
        for pause in (think, 0.0):
            run = run_load(work, tablets=tablets, rounds=1 if quick else 2, workers=3,
                           time_limit=120 if quick else 900, history=history, filled=filled, think=pause,
                           database=database)
            run["figure"] = "backends_load"
            run["one_tablet"] = {"tablet_pages": one["tablet_pages"], "page_saves": one["page_saves"]}
            for kind in ("tablet_pages", "page_saves"):
                if run[kind]["n"] and one[kind]["n"]:
                    run[kind]["p50_vs_one_tablet"] = round(run[kind]["p50_ms"] / one[kind]["p50_ms"], 2)
                    run[kind]["p95_vs_one_tablet"] = round(run[kind]["p95_ms"] / one[kind]["p95_ms"], 2)
            runs.append(run)
    return runs


def multi_server(work: Path, quick: bool) -> list[dict[str, Any]]:
    """Two app servers (``pro-app serve`` on two ports) sharing one PostgreSQL, the tablets spread over both."""
    run = run_load(work, tablets=4 if quick else 20, rounds=1 if quick else 2, workers=2 if quick else 3,
                   time_limit=120 if quick else 900, history=7, filled=FILLED if quick else ALL_PATIENT_FORMS,
                   database=Postgres.database, servers=2, think=0.0)
    run["figure"] = "multi_server"
    run["ok"] = run["submitted"] == run["stored"] > 0 and run["lost"] == run["duplicates"] == 0 and not run["errors"]
    return [run]


FIGURES = {
    "backends_save": backends_save,
    "backends_reads": backends_reads,
    "backends_summary": backends_summary,
    "backends_export": backends_export,
    "backends_load": backends_load,
    "multi_server": multi_server,
}
