"""``pro-app db upgrade`` and ``pro-app db copy`` (issue 11): the schema in versioned SQL, and a clinic's data moved
between a TinyDB folder and PostgreSQL, verified record by record."""
from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from pro_app import create_app
from pro_app.cli import main
from pro_app.demo import seed_demo
from pro_app.storage import StorageError, TinyDBStore, open_store
from pro_app.storage.copy import CopyError, copy_store, digest_of
from pro_app.storage.postgres import SCHEMA_VERSION, PostgresStore


@pytest.fixture
def demo_folder(tmp_path, monkeypatch):
    """The demo data (``pro-app demo``) in a TinyDB folder, with answers, a completed form and audited events."""
    monkeypatch.delenv("PRO_APP_DATABASE_URL", raising=False)
    folder = tmp_path / "demo"
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(folder))
    app = create_app({"TESTING": True})
    seed_demo(app)
    cat = app.extensions["pro_app"]
    store = cat.store
    patient = store.find_patient("DEMO-001")
    visit = store.list_visits(patient["id"])[0]
    done = store.start_response(patient["id"], visit["id"], cat.get("patient_global"), "patient:tablet", "sv")
    store.save_answers(patient["id"], done["id"], "patient:tablet", {"PtGA": 42.5}, {"PtGA": {"touched": True}},
                       page=1, stamp=(0, 1))
    store.complete_response(patient["id"], done["id"], "patient:tablet")
    haq = store.start_response(patient["id"], visit["id"], cat.get("haq"), "patient:tablet", "en")
    store.save_answers(patient["id"], haq["id"], "patient:tablet", {"dress_1": 1, "dress_2": 0})
    store.update_visit(patient["id"], visit["id"], "staff:nurse", date="2025-02-03")
    store.audit("staff:nurse", "print", "summary", visit["id"], patient["id"], format="pdf")
    other = store.create_patient("DEMO-002", "staff:nurse")
    store.add_visit(other["id"], "staff:nurse", key="extra", label={"sv": "Extra", "en": "Extra"},
                    questionnaires=["patient_global"], due="2025-06-01", window_days=7)
    return folder


def test_the_demo_data_round_trips_through_postgresql_and_back(demo_folder, tmp_path, postgres_database):
    url = postgres_database()
    runner = CliRunner()
    there = runner.invoke(main, ["db", "copy", "--from", str(demo_folder), "--to", url])
    assert there.exit_code == 0, there.output
    assert "copied and verified" in there.output and "2 patients" in there.output and "2 responses" in there.output
    back = tmp_path / "back"
    again = runner.invoke(main, ["db", "copy", "--from", url, "--to", str(back)])
    assert again.exit_code == 0, again.output

    original, copied, returned = TinyDBStore(demo_folder), PostgresStore(url), TinyDBStore(back)
    assert digest_of(original) == digest_of(copied) == digest_of(returned)
    # What the app reads is the same in all three: the completed answers, the partial ones, the audit trail in order.
    for store in (copied, returned):
        patient = store.find_patient("DEMO-001")
        by_questionnaire = {r["questionnaire"]: r for r in store.list_responses(patient["id"])}
        assert by_questionnaire["patient_global"]["answers"] == {"PtGA": 42.5}
        assert by_questionnaire["patient_global"]["status"] == "completed"
        assert by_questionnaire["haq"]["answers"] == {"dress_1": 1, "dress_2": 0}
        assert [(e["action"], e["id"]) for e in store.audit_entries()] == \
            [(e["action"], e["id"]) for e in original.audit_entries()]
        assert store.get_user("nurse")["password_hash"] == original.get_user("nurse")["password_hash"]
    # The copy goes on working as a store: a new audit entry comes after the copied ones.
    copied.audit("staff:nurse", "login", "user", "nurse")
    assert copied.audit_entries()[-1]["action"] == "login"
    assert copied.audit_entries()[-1]["seq"] > copied.audit_entries()[-2]["seq"]


def test_copy_refuses_a_target_with_data_and_a_copy_that_differs_is_caught(demo_folder, postgres_database):
    url = postgres_database()
    source = TinyDBStore(demo_folder)
    copy_store(source, open_store(url))
    result = CliRunner().invoke(main, ["db", "copy", "--from", str(demo_folder), "--to", url])
    assert result.exit_code == 1 and "already holds" in result.output
    # One answer changed in the database behind the app's back: the verification names the response.
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE responses SET answers = '{\"PtGA\": 42.6}' WHERE questionnaire = 'patient_global'")
    from pro_app.storage.copy import verify_copy

    with pytest.raises(CopyError) as exc:
        verify_copy(source, open_store(url))
    assert "responses: 2 in the source, 2 copied (same count, different content)" in str(exc.value)
    assert "of DEMO-001" in str(exc.value)


def test_db_upgrade_builds_the_schema_once_and_the_app_refuses_a_schema_it_does_not_know(postgres_database):
    url = postgres_database(schema=False)
    with pytest.raises(StorageError, match="run `pro-app db upgrade`"):
        PostgresStore(url)
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--url", url])
    assert first.exit_code == 0 and f"schema version {SCHEMA_VERSION} (applied migration(s) 1" in first.output
    assert "nothing to do" in runner.invoke(main, ["db", "upgrade", "--url", url]).output
    PostgresStore(url).close()
    with psycopg.connect(url) as conn:  # a newer pro-app upgraded this database
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, 'later.sql')", (SCHEMA_VERSION + 1,))
    with pytest.raises(StorageError, match="newer than this pro-app"):
        PostgresStore(url)
    refused = runner.invoke(main, ["db", "upgrade", "--url", url])
    assert refused.exit_code == 1 and "newer than this pro-app" in refused.output


def test_the_audit_table_refuses_updates_deletes_and_truncation(postgres_database):
    url = postgres_database()
    store = PostgresStore(url)
    store.create_patient("AUD-1", "staff:anna")
    store.close()
    for statement in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit", "TRUNCATE audit"):
        with psycopg.connect(url) as conn:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT actor FROM audit").fetchall() == [("staff:anna",)]


def test_a_database_address_is_shown_without_its_password():
    from pro_app.storage.postgres import redacted

    assert redacted("postgresql://proapp:s3cret@db1,db2/proapp?target_session_attrs=read-write") == \
        "postgresql://proapp:***@db1,db2/proapp?target_session_attrs=read-write"
    assert redacted("postgresql:///proapp?host=/run/pg&password=s3cret") == "postgresql:///proapp?host=/run/pg&password=***"
    assert redacted("postgresql://proapp@db/proapp") == "postgresql://proapp@db/proapp"
