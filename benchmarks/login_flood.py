"""Tablet page latency while someone floods the login form (issue 15.6), against ``pro-app serve``.

Six tablets, each handed over once, fetch their questionnaire page in a loop: first with nothing
else going on, then while 24 threads post wrong passwords with different user names as fast as
the server answers. Prints one JSON object: tablet page latency (p50, p95) quiet and flooded,
and how the flood's logins were answered.

    .venv/bin/python -m benchmarks.login_flood [--seconds 8] [--workers 3]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pro_app.auth import hash_password
from pro_app.storage import TinyDBStore as Store

from .load import ROOT, Tablet, _token, _wait_for, free_port, percentile

NURSE = ("bench", "benchmark password 1")


def _hand_over(port: int, store: Store, n: int) -> Tablet:
    patient = store.create_patient(f"FLOOD-{n}", "benchmark")
    visit = store.add_visit(patient["id"], "benchmark", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=["patient_global"])
    tablet = Tablet(port, [])
    for _attempt in range(50):
        _, html, _ = tablet.get("/login")
        status, _, _ = tablet.post("/login", {"csrf_token": _token(html), "username": NURSE[0], "password": NURSE[1]})
        if status != 503:
            break
        time.sleep(0.1)
    _, html, _ = tablet.get(f"/staff/patients/{patient['id']}")
    tablet.post(f"/staff/patients/{patient['id']}/visits/{visit['id']}/tablet", {"csrf_token": _token(html),
                                                                                "language": "sv"})
    tablet.get("/tablet/q/patient_global")
    return tablet


def _pages(tablet: Tablet, stop: threading.Event) -> None:
    while not stop.is_set():
        tablet.get("/tablet/q/patient_global/p/0", "page")


def _flood(port: int, n: int, stop: threading.Event, answers: collections.Counter) -> None:
    attacker = Tablet(port, [])
    while not stop.is_set():
        try:
            _, html, _ = attacker.get("/login")
            status, _, _ = attacker.post("/login", {"csrf_token": _token(html), "username": f"guess{n}-{time.time_ns()}",
                                                    "password": "wrong"})
        except Exception:  # noqa: BLE001 - a refused connection counts too
            status = 0
        answers[status] += 1


def _phase(port: int, tablets: list[Tablet], seconds: float, flood: int) -> tuple[list[float], collections.Counter]:
    stop = threading.Event()
    answers: collections.Counter = collections.Counter()
    for tablet in tablets:
        tablet.timings.clear()
    threads = [threading.Thread(target=_pages, args=(t, stop)) for t in tablets]
    threads += [threading.Thread(target=_flood, args=(port, n, stop, answers)) for n in range(flood)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return [s for tablet in tablets for _kind, s in tablet.timings], answers


def run(seconds: float, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        store = Store(data)
        store.create_user(NURSE[0], hash_password(NURSE[1]), "nurse", "benchmark")
        port = free_port()
        env = {**os.environ, "PRO_APP_DATA_DIR": str(data), "PRO_APP_SECURE_COOKIES": "0",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        server = subprocess.Popen([sys.executable, "-m", "pro_app", "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(workers)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(port, server)
            tablets = [_hand_over(port, store, n) for n in range(6)]
            quiet, _ = _phase(port, tablets, seconds, flood=0)
            flooded, answers = _phase(port, tablets, seconds, flood=24)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def figures(values: list[float]) -> dict:
        return {"n": len(values), "p50_ms": round(percentile(values, 50) * 1000, 1),
                "p95_ms": round(percentile(values, 95) * 1000, 1)}

    return {"figure": "login_flood", "server": f"gunicorn, {workers} workers x 4 threads, 127.0.0.1",
            "what": "GET of a tablet questionnaire page by 6 tablets; flood: 24 threads posting wrong passwords",
            "seconds_per_phase": seconds, "tablet_page_quiet": figures(quiet),
            "tablet_page_during_flood": figures(flooded),
            "flood_logins_answered": {str(k): v for k, v in sorted(answers.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.workers)))


if __name__ == "__main__":
    main()
