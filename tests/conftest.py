"""Shared fixtures: a fresh store per test (TinyDB data folder or PostgreSQL database), an app, a client,
a logged-in nurse, a handed-over tablet.

Every test that uses a store runs once per backend, as TinyDB's own tests run over its storages: the
``backend`` fixture is parametrised over ``tinydb`` and ``postgres`` (``PRO_APP_TEST_BACKENDS`` narrows
the list while working; CI runs both). ``@pytest.mark.backends("tinydb")`` keeps a test to the backends
it is about (file-level faults of the data folder, say). PostgreSQL is a real server: a throwaway cluster
from Debian's packages, started once per run (``pg_cluster.py``); if it cannot start, its tests fail.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import hand_over, login
from pg_cluster import Cluster, ClusterError
from pro_app import create_app
from pro_app.auth import hash_password

BACKENDS = tuple(b.strip() for b in os.environ.get("PRO_APP_TEST_BACKENDS", "tinydb,postgres").split(",") if b.strip())
TEMPLATE = "pro_app_template"  # migrated once per run; each test's database is a copy of it


def pytest_configure(config):
    os.environ.pop("PRO_APP_DATABASE_URL", None)  # only the fixtures below choose a database
    config.addinivalue_line("markers", "backends(*names): run only on these storage backends")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = [b for b in BACKENDS if marker is None or b in marker.args]
        metafunc.parametrize("backend", names, indirect=True, scope="module")


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL cluster for the whole run, with the schema in a template database."""
    from pro_app.storage.postgres import upgrade

    cluster = Cluster()
    try:
        cluster.start()
        upgrade(cluster.create_database(name=TEMPLATE))
    except (ClusterError, OSError) as exc:
        cluster.stop()
        pytest.fail(f"the PostgreSQL test cluster did not start (tests never skip it): {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def backend(request) -> str:
    return request.param


class Databases:
    """Fresh PostgreSQL databases for one test or module: every store opened on them is closed, then they are dropped."""

    def __init__(self, cluster: Cluster, monkeypatch: pytest.MonkeyPatch):
        from pro_app.storage.postgres import PostgresStore

        self.cluster = cluster
        self.urls: list[str] = []
        self.opened: list[PostgresStore] = []
        real_init = PostgresStore.__init__

        def init(store, *args, **kwargs):
            real_init(store, *args, **kwargs)
            self.opened.append(store)

        monkeypatch.setattr(PostgresStore, "__init__", init)

    def new(self) -> str:
        url = self.cluster.create_database(template=TEMPLATE)
        self.urls.append(url)
        return url

    def drop(self) -> None:
        for store in self.opened:
            store.close()
        for url in self.urls:
            self.cluster.drop_database(url)


def store_address(backend: str, request, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where a test's store lives on ``backend``: a new database (PRO_APP_DATABASE_URL set), or ``folder``."""
    if backend == "postgres":
        databases = Databases(request.getfixturevalue("pg_cluster"), monkeypatch)
        request.addfinalizer(databases.drop)
        url = databases.new()
        monkeypatch.setenv("PRO_APP_DATABASE_URL", url)
        return url
    monkeypatch.delenv("PRO_APP_DATABASE_URL", raising=False)
    return str(folder)


@pytest.fixture(scope="module")
def module_database(backend, request) -> str | None:
    """A PostgreSQL database shared by one module's tests (None on TinyDB): for data built once per module."""
    if backend != "postgres":
        return None
    patch = pytest.MonkeyPatch()
    databases = Databases(request.getfixturevalue("pg_cluster"), patch)

    def finish() -> None:
        databases.drop()
        patch.undo()

    request.addfinalizer(finish)
    return databases.new()


@pytest.fixture
def postgres_database(request, monkeypatch):
    """A factory of new PostgreSQL databases, whatever this test's backend (for tests about moving between them).
    ``postgres_database(schema=False)`` gives one without pro-app's schema."""
    databases = Databases(request.getfixturevalue("pg_cluster"), monkeypatch)
    request.addfinalizer(databases.drop)

    def new(schema: bool = True) -> str:
        if schema:
            return databases.new()
        url = databases.cluster.create_database()
        databases.urls.append(url)
        return url

    return new


@pytest.fixture
def new_store_address(backend, request, tmp_path, monkeypatch):
    """A factory of further empty stores on this test's backend (a new database, or a new folder)."""
    databases = None
    folders = iter(range(1, 1000))

    def new() -> str:
        nonlocal databases
        if backend != "postgres":
            return str(tmp_path / f"store-{next(folders)}")
        if databases is None:
            databases = Databases(request.getfixturevalue("pg_cluster"), monkeypatch)
            request.addfinalizer(databases.drop)
        return databases.new()

    return new


@pytest.fixture
def database(backend, request, tmp_path, monkeypatch) -> str | None:
    """This test's PostgreSQL database URL (also in PRO_APP_DATABASE_URL), or None on TinyDB."""
    address = store_address(backend, request, tmp_path / "data", monkeypatch)
    return address if backend == "postgres" else None


@pytest.fixture
def data_dir(database, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(path))
    return path


@pytest.fixture
def app(data_dir):
    return create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def store(app):
    return app.extensions["pro_app"].store


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def nurse(app, store):
    store.create_user("anna", hash_password("correct horse battery"), "nurse", "test")
    return {"username": "anna", "password": "correct horse battery"}


@pytest.fixture
def nurse_client(client, nurse):
    response = login(client, nurse["username"], nurse["password"])
    assert response.status_code == 302
    return client


@pytest.fixture
def demo_visit(store):
    patient = store.create_patient("P-001", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                            questionnaires=["patient_global"])
    return patient, visit


@pytest.fixture
def tablet(nurse_client, demo_visit):
    patient, visit = demo_visit
    response = hand_over(nurse_client, patient["id"], visit["id"])
    assert response.status_code == 302 and response.location.endswith("/tablet/")
    return nurse_client
