"""Simulated tablets against a production server (gunicorn, several workers) on 127.0.0.1.

Each tablet is one thread with its own connection and cookie: a nurse logs in, opens the
patient's page and hands the tablet over, the patient answers every patient questionnaire
page by page and sends each, the tablet locks. Every request is timed by kind (logins apart
from pages). The patients may have history (responses stored from earlier visits). At the end
the data folder is read back: every response the server acknowledged must be stored exactly
once. With ``profile=True`` py-spy samples every worker (idle threads too) and says how much
of the request time was spent waiting on a lock.

On PostgreSQL (``database=`` a function that gives a new empty database's URL) the seeded folder is
copied into it (``pro-app db copy``) and ``servers`` app servers (each ``pro-app serve``) share it; the
tablets are spread over them. ``think`` seconds between a patient's pages is how fast people read and tap.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from pro_app.auth import hash_password
from pro_app.definitions import Questionnaire, VisualAnalogueScale
from pro_app.storage import TinyDBStore, open_store

from .seed import load_questionnaires, seed_folder

__all__ = ["run_load", "Tablet", "percentile"]

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|type="hidden" name="csrf_token" value="([^"]+)"')
SHOWN = re.compile(r'name="shown" value="([^"]*)"')
# What a page posts back as it is: the response it belongs to and the stamp that orders its saves.
BOUND = re.compile(r'name="(response|rev|seq)" value="([^"]*)"')
NURSE = ("bench", "benchmark password 1")
FILLED = ("patient_global", "haq")  # the quick run
ALL_PATIENT_FORMS = ("patient_global", "haq", "sf36", "fss", "map")
PAGE_KINDS = ("start", "page_get", "page_save", "review_get", "submit", "tablet_home", "finish", "handoff")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tablet:
    """A browser as far as the server can tell: one keep-alive connection and the session cookie."""

    def __init__(self, port: int, timings: list[tuple[str, float]]):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        self.timings = timings

    def request(self, method: str, path: str, kind: str, data: dict[str, Any] | list[tuple[str, str]] | None = None):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: a browser reconnects too.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        self.timings.append((kind, time.perf_counter() - started))
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("pro_app_session="):
                pair = value.split(";", 1)[0]
                self.cookie = "" if pair.endswith("=") else pair
        location = response.getheader("Location")
        if location:
            location = urlsplit(location).path
        return response.status, text, location

    def get(self, path: str, kind: str = "get"):
        return self.request("GET", path, kind)

    def post(self, path: str, data, kind: str = "post"):
        return self.request("POST", path, kind, data)


def _token(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise AssertionError("no CSRF token on the page")
    return match.group(1) or match.group(2)


def _page_fields(q: Questionnaire, html: str, n: int) -> list[tuple[str, str]]:
    shown = SHOWN.search(html).group(1)
    fields = [("csrf_token", _token(html)), ("shown", shown), ("action", "next"), *BOUND.findall(html)]
    for k, aid in enumerate(shown.split()):
        item = q.item_for_answer(aid)
        options = q.options_for(aid)
        if options:
            fields.append((f"a__{aid}", str(options[(n + k) % len(options)].code)))
        elif isinstance(item, VisualAnalogueScale):
            fields += [(f"a__{aid}", f"{(n * 7 + k) % 101}.0"), (f"m__{aid}__touched", "1"),
                       (f"m__{aid}__line_px", "800"), (f"m__{aid}__px_per_mm", "8"), (f"m__{aid}__calibrated", "0")]
    return fields


def _answer(tablet: Tablet, q: Questionnaire, round_: int, think: float = 0.0) -> bool:
    """Answer one questionnaire page by page and send it; True once the server acknowledged it."""
    status, _, location = tablet.get(f"/tablet/q/{q.id}", "start")
    for _step in range(len(q.pages) + 3):
        if "/review" in (location or ""):
            break
        status, html, _ = tablet.get(location, "page_get")
        if think:  # the patient reads the page and answers it: a few seconds, not the same for everyone
            time.sleep(think * (0.5 + (hash((q.id, _step, round_, id(tablet))) % 1000) / 1000))
        for _again in range(3):  # a follow-up question appears: answer it and press Next again
            status, html, next_location = tablet.post(location, _page_fields(q, html, round_), "page_save")
            if status == 302:
                location = next_location
                break
            if status != 200:
                raise AssertionError(f"saving {location} answered {status}")
    status, html, _ = tablet.get(f"/tablet/q/{q.id}/review", "review_get")
    status, _, location = tablet.post(f"/tablet/q/{q.id}/review", [("csrf_token", _token(html)), ("action", "submit"), *BOUND.findall(html)],
                                      "submit")
    return status == 302 and location == "/tablet/"


def _tablet_run(port: int, patient: dict[str, Any], visits: list[str], questionnaires: dict[str, Questionnaire],
                deadline: float, timings: list, acknowledged: list, errors: list, filled: tuple[str, ...],
                think: float = 0.0) -> None:
    tablet = Tablet(port, timings)
    try:
        for round_, visit_id in enumerate(visits):
            if time.monotonic() > deadline:
                return
            for _attempt in range(150):  # "busy, try again in a moment" while many log in at once: a nurse would
                _, html, _ = tablet.get("/login", "login_get")
                status, _, _ = tablet.post("/login", {"csrf_token": _token(html), "username": NURSE[0],
                                                      "password": NURSE[1]}, "login")
                if status != 503:
                    break
                time.sleep(0.2)
            _, html, _ = tablet.get(f"/staff/patients/{patient['id']}", "staff_patient")
            status, _, location = tablet.post(f"/staff/patients/{patient['id']}/visits/{visit_id}/tablet",
                                              {"csrf_token": _token(html), "language": "sv"}, "handoff")
            assert location == "/tablet/", (status, location)
            _, html, _ = tablet.get("/tablet/", "tablet_home")
            for qid in filled:
                if _answer(tablet, questionnaires[qid], round_, think):
                    acknowledged.append((patient["id"], visit_id, qid))
            _, html, _ = tablet.get("/tablet/", "tablet_home")
            tablet.post("/tablet/finish", {"csrf_token": _token(html)}, "finish")
    except Exception as exc:  # reported in the figure, never hidden
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        tablet.conn.close()


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _profile(pid: int, out: Path) -> subprocess.Popen | None:
    """py-spy on the server and its workers, idle threads included; None if py-spy is not installed."""
    spy = shutil.which("py-spy") or (str(Path(sys.executable).parent / "py-spy")
                                     if (Path(sys.executable).parent / "py-spy").exists() else None)
    if spy is None:
        return None
    process = subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--idle", "--nonblocking",
                                "--rate", "200", "--format", "raw", "--output", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # attached before the first tablet starts
    return process


def _request_time(raw: Path) -> dict[str, Any]:
    """Shares of the sampled request time (stacks inside Flask's wsgi_app) by what they were waiting on."""
    total = 0
    shares = {"login_requests": 0, "lock_poll": 0, "lock_wait_in_kernel": 0, "login_hash_wait": 0, "storage": 0}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if "wsgi_app" not in stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        if "authenticate (" in stack:  # a login or an unlock: argon2 and the one-hash-at-a-time slot
            shares["login_requests"] += n
        if "_hash_slot (" in stack and ("acquire (" in stack or "_flock (" in stack):
            shares["login_hash_wait"] += n  # waiting for the server's one password-hash slot (by design)
        elif "filelock" in stack:  # filelock's acquire: a non-blocking try, then time.sleep(poll_interval)
            shares["lock_poll"] += n
        elif "_flock (" in stack:  # a kernel flock wait for data (pro_app/storage/files.py)
            shares["lock_wait_in_kernel"] += n
        if "pro_app/storage" in stack:
            shares["storage"] += n
    return {"request_samples": total,
            **{f"{k}_share": round(v / total, 4) if total else None for k, v in shares.items()}}


def _kinds(timings: list[tuple[str, float]], kinds: tuple[str, ...]) -> dict[str, Any]:
    seconds = [s for kind, s in timings if kind in kinds]
    if not seconds:
        return {"n": 0}
    return {"p50_ms": round(statistics.median(seconds) * 1000, 1), "p95_ms": round(percentile(seconds, 95) * 1000, 1),
            "n": len(seconds)}


def run_load(workdir: Path, *, tablets: int = 20, rounds: int = 3, workers: int = 3,
             time_limit: float = 180.0, history: int = 0, filled: tuple[str, ...] = FILLED,
             profile: bool = False, think: float = 0.0, database: Any = None, servers: int = 1) -> dict[str, Any]:
    from pro_app.storage.copy import copy_store

    questionnaires = load_questionnaires()
    data = workdir / f"load-data-{history}-{time.monotonic_ns()}"
    folder = seed_folder(data, questionnaires, patients=tablets, responses_per_patient=history, open_visits=rounds,
                         visit_questionnaires=filled)
    TinyDBStore(data).create_user(NURSE[0], hash_password(NURSE[1]), "nurse", "benchmark")
    address = str(data)
    if database is not None:
        address = database()
        copy_store(TinyDBStore(data), open_store(address))
    env = {**os.environ, "PRO_APP_DATA_DIR": str(data), "PRO_APP_SECURE_COOKIES": "0",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PRO_APP_DATABASE_URL", None)
    if database is not None:
        env["PRO_APP_DATABASE_URL"] = address
    ports = [free_port() for _ in range(servers)]
    running = [subprocess.Popen([sys.executable, "-m", "pro_app", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(workers)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for port in ports]
    timings: list[tuple[str, float]] = []
    acknowledged: list[tuple[str, str, str]] = []
    errors: list[str] = []
    spy = None
    spy_out = workdir / f"py-spy-{history}-{time.monotonic_ns()}.txt"
    server_log = ""
    try:
        for port, server in zip(ports, running):
            _wait_for(port, server)
        if profile:
            spy = _profile(running[0].pid, spy_out)
        started = time.perf_counter()
        deadline = time.monotonic() + time_limit
        threads = [threading.Thread(target=_tablet_run, args=(ports[n % servers], p, folder.open_visits[p["id"]],
                                                              questionnaires, deadline, timings, acknowledged, errors,
                                                              filled, think))
                   for n, p in enumerate(folder.patients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
        for server in running:
            server.terminate()
            try:
                _, log = server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                _, log = server.communicate()
            server_log += log

    store = open_store(address)
    opened = {(p["id"], v) for p in folder.patients for v in folder.open_visits[p["id"]]}
    stored = [(r["patient"], r["visit"], r["questionnaire"]) for p in folder.patients
              for r in store.list_responses(p["id"]) if r["status"] == "completed" and (p["id"], r["visit"]) in opened]
    store.close()
    all_seconds = [s for _, s in timings]
    saves = [s for kind, s in timings if kind in ("page_save", "submit")]
    pages = [s for kind, s in timings if kind in PAGE_KINDS]
    result = {
        "figure": "load_http",
        "server": f"{servers} x gunicorn, {workers} workers x 4 threads, 127.0.0.1",
        "backend": "postgres" if database is not None else "tinydb",
        "servers": servers,
        "think_seconds": think,
        "tablets": tablets,
        "history_responses_per_patient": history,
        "rounds_per_tablet": rounds,
        "questionnaires_per_round": list(filled),
        "pages_per_second": round(len(pages) / elapsed, 1),
        "tablet_pages": _kinds(timings, PAGE_KINDS),
        "page_saves": _kinds(timings, ("page_save", "submit")),
        "logins": _kinds(timings, ("login",)),
        "staff_patient_page": _kinds(timings, ("staff_patient",)),
        "profile": _request_time(spy_out) if spy is not None and spy_out.exists() else None,
        "seconds": round(elapsed, 2),
        "requests": len(timings),
        "requests_per_second": round(len(timings) / elapsed, 1),
        "questionnaires_per_minute": round(len(acknowledged) / elapsed * 60, 1),
        "latency_ms_p50": round(statistics.median(all_seconds) * 1000, 1),
        "latency_ms_p95": round(percentile(all_seconds, 95) * 1000, 1),
        "save_latency_ms_p50": round(statistics.median(saves) * 1000, 1) if saves else None,
        "save_latency_ms_p95": round(percentile(saves, 95) * 1000, 1) if saves else None,
        "login_latency_ms_p50": round(statistics.median([s for k, s in timings if k == "login"]) * 1000, 1),
        "submitted": len(acknowledged),
        "stored": len(stored),
        "duplicates": len(stored) - len(set(stored)),
        "lost": len(set(acknowledged) - set(stored)),
        "errors": errors[:5],
        "server_errors": [line for line in server_log.splitlines() if "Traceback" in line or "Error" in line][:5],
    }
    return result
