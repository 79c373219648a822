"""Against a real ``pro-app serve`` (gunicorn, two worker processes) on a free loopback port.

* kill -9 of the master under load (issue 15.2): the audit trail stays clean (no stray byte,
  every acknowledged change has its entry) and a restart on the same port comes up at once.
* a login flood (15.6): throttled across processes per client and per user name; a locked
  tablet's unlock is not held up by it; a throttled user is told so, not "wrong password".
* a chunked body over the size limit (15.4) is refused with 413 and nothing is stored.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import ROOT, Browser, page_fields
from pro_app.auth import hash_password
from pro_app.storage import Store, TinyDBStore, open_store

NURSE = ("anna", "correct horse battery")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _listening(port: int) -> bool:
    """Whether any socket on this machine listens on the port (state 0A in /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Server:
    def __init__(self, data: Path, port: int):
        env = {**os.environ, "PRO_APP_DATA_DIR": str(data), "PRO_APP_SECURE_COOKIES": "0",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pro_app", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait_up(self, timeout: float = 30) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}): {self.process.stderr.read()[-2000:]}")
            try:
                if Browser(self.port).get("/login").status == 200:
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not come up")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def world(tmp_path, database):
    """A store (PostgreSQL when ``database``, which the servers find in PRO_APP_DATABASE_URL) and servers on it."""
    data = tmp_path / "data"
    store = open_store(database or data)
    store.create_user(NURSE[0], hash_password(NURSE[1]), "nurse", "test")
    started: list[Server] = []

    def start(port: int | None = None) -> Server:
        server = Server(data, port or _free_port())
        started.append(server)
        server.wait_up()
        return server

    yield store, start
    for server in started:
        server.stop()
        for pid in getattr(server, "workers", []):  # orphans of a killed master, should a check have failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _tablet(server: Server, store: Store, code: str) -> tuple[Browser, dict]:
    patient = store.create_patient(code, "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=["patient_global"])
    tablet = Browser(server.port)
    for _attempt in range(50):  # "busy, try again in a moment" while others log in: a nurse would
        status = tablet.login(*NURSE).status
        if status != 503:
            break
        time.sleep(0.1)
    assert status == 302
    assert tablet.hand_over(patient["id"], visit["id"]).location == "/tablet/"
    tablet.get("/tablet/q/patient_global")
    return tablet, patient


def test_kill_9_of_the_master_under_load_leaves_a_clean_audit_and_a_restart_comes_up(world):
    store, start = world
    server = start()
    tablets = [_tablet(server, store, f"LOAD-{i}") for i in range(6)]
    acknowledged: list[tuple[str, float]] = []
    stop = threading.Event()

    def answer(tablet: Browser, patient: dict, offset: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            value = float((offset * 10 + n) % 100)
            try:
                page = tablet.get("/tablet/q/patient_global/p/0")
                saved = tablet.post("/tablet/q/patient_global/p/0", {
                    **page_fields(page.text), "shown": "PtGA", "action": "autosave", "a__PtGA": f"{value:.1f}",
                    "m__PtGA__touched": "1"})
            except (OSError, AssertionError):
                continue  # the server is gone or going: what was acknowledged before is what counts
            if saved.status == 200 and json.loads(saved.text)["saved"]:
                acknowledged.append((patient["id"], value))

    threads = [threading.Thread(target=answer, args=(t, p, i), daemon=True) for i, (t, p) in enumerate(tablets)]
    for t in threads:
        t.start()
    try:
        _kill_master_under_load(server, start, stop, threads, store, acknowledged)
    finally:
        stop.set()


def _kill_master_under_load(server, start, stop, threads, store, acknowledged) -> None:
    time.sleep(1.5)
    # A slow client halfway through sending its request: its worker will want to finish it.
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nusername=")
    time.sleep(0.2)
    workers = server.workers = _children(server.process.pid)
    assert len(workers) == 2
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    killed_at = time.monotonic()
    # The orphaned workers let go of the port at once, though one still has a request to finish.
    while _listening(server.port) and time.monotonic() - killed_at < 10:
        time.sleep(0.05)
    print("port free after", round(time.monotonic() - killed_at, 2), "s")
    assert time.monotonic() - killed_at < 2.5, "orphaned workers held the port"
    stop.set()
    for t in threads:
        t.join()

    # A restart on the same port comes up, while orphaned workers may still be finishing.
    restarted = start(server.port)
    assert time.monotonic() - killed_at < 15
    slow.close()
    while any(_alive(pid) for pid in workers) and time.monotonic() - killed_at < 40:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "orphaned workers are still running"
    assert Browser(restarted.port).get("/login").status == 200

    if isinstance(store, TinyDBStore):
        for path in [store.root / "audit.jsonl", *store.root.glob("patients/*/audit.jsonl")]:
            assert b"\x00" not in path.read_bytes(), path
    entries = store.audit_entries()
    audited = {(e["patient"], e["details"]["answers"]["PtGA"]["to"]) for e in entries
               if e["action"] == "update" and e["entity"] == "response"}
    assert len(acknowledged) > 20, "the load never got going"
    missing = [a for a in acknowledged if a not in audited]
    assert not missing, missing[:5]
    for path in store.root.glob("patients/*/*.json") if isinstance(store, TinyDBStore) else ():
        json.loads(path.read_text(encoding="utf-8"))


def test_a_login_flood_is_throttled_across_processes_and_a_locked_tablet_still_unlocks(world):
    from pro_app.auth import LIMITS

    store, start = world
    server = start()
    tablet, patient = _tablet(server, store, "FLOOD-1")
    tablet.post("/tablet/finish", page_fields(tablet.get("/tablet/").text))
    assert tablet.get("/tablet/").location == "/tablet/locked"

    def attempt(n: int) -> int:
        browser = Browser(server.port)
        while True:  # an attacker tries again when told the server is busy
            page = browser.get("/login")
            status = browser.post("/login", {**page_fields(page.text), "username": f"guess{n}",
                                             "password": "wrong"}).status
            if status != 503:
                return status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(32)))
    assert set(statuses) <= {401, 429}, statuses
    # Counted in the data folder, so across both worker processes: at most the per-client limit get through.
    assert statuses.count(401) <= LIMITS["client"] + 4 and 429 in statuses, statuses

    # The tablet's own unlock is not throttled by other user names' failures from the same address.
    locked = tablet.get("/tablet/locked")
    unlocked = tablet.post("/tablet/locked", {**page_fields(locked.text), "username": NURSE[0], "password": NURSE[1]})
    assert unlocked.status == 302 and unlocked.location == f"/staff/patients/{patient['id']}"

    # One user name guessed from another tablet: throttled, and then even the right password is told so.
    other = Browser(server.port)
    for _ in range(LIMITS["pair"]):
        other.post("/login", {**page_fields(other.get("/login").text), "username": "anna", "password": "nope"})
    right = other.post("/login", {**page_fields(other.get("/login").text), "username": "anna", "password": NURSE[1]})
    assert right.status == 429
    assert "För många misslyckade försök" in right.text and "Fel användarnamn" not in right.text


def test_a_chunked_body_over_the_limit_is_refused_and_nothing_is_stored(world):
    store, start = world
    server = start()
    tablet, patient = _tablet(server, store, "CHUNK-1")
    page = tablet.get("/tablet/q/patient_global/p/0")
    fields = "&".join(f"{k}={v}" for k, v in page_fields(page.text).items())
    head = f"{fields}&shown=PtGA&action=next&a__PtGA=50.0&m__PtGA__touched=1".encode()
    body = head + b"&m__PtGA__junk=" + b"x" * (3 * 1024 * 1024)

    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    conn = __import__("http.client").client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", "/tablet/q/patient_global/p/0", body=chunks(), encode_chunked=True,
                 headers={"Cookie": tablet.cookie, "Content-Type": "application/x-www-form-urlencoded",
                          "Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    assert response.status == 413
    conn.close()
    (stored,) = store.list_responses(patient["id"])
    assert stored["answers"] == {}
