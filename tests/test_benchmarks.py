"""The benchmarks keep running: ``python -m benchmarks --quick`` prints every figure and finds nothing lost."""
from __future__ import annotations

import json
import subprocess
import sys

from helpers import ROOT


def test_quick_benchmarks_print_every_figure_as_json(tmp_path):
    out = tmp_path / "quick.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=480)
    assert run.returncode == 0, run.stderr
    printed = [json.loads(line) for line in run.stdout.splitlines()]
    figures = {f["figure"]: f for f in printed}
    assert set(figures) == {"save_history", "visits_and_registration", "sqlite_reference", "append_fsync_floor",
                            "save_scaling", "plain_tinydb_insert", "render_sf36_page", "score_sf36",
                            "startup_memory", "load_http", "study_report", "targets",
                            "backends_save", "backends_reads", "backends_summary", "backends_export", "backends_load",
                            "multi_server"}
    assert json.loads(out.read_text())["figures"] == printed
    loads = [f for f in printed if f["figure"] == "load_http"]
    assert sorted(f["history_responses_per_patient"] for f in loads) == [0, 7]
    for load in loads:
        assert load["errors"] == [] and load["submitted"] == load["stored"] > 0
        assert load["lost"] == load["duplicates"] == 0
        assert load["logins"]["n"] > 0 and load["tablet_pages"]["n"] > 0
    history = figures["save_history"]["by_history"]
    assert set(history) == {"7", "72"} and all(h["page_save"]["n"] > 0 for h in history.values())
    assert {"save_600_within_1.5x_of_7", "save_within_10x_of_append_fsync"} <= set(figures["targets"])
    assert figures["save_scaling"]["small"]["median_ms"] > 0
    # Issue 11: both backends side by side, and two app servers sharing one PostgreSQL lose nothing.
    for name in ("backends_save", "backends_reads", "backends_summary", "backends_export"):
        assert {"tinydb", "postgres"} <= set(figures[name]), name
    assert figures["backends_export"]["tinydb"]["fhir"]["peak_rss_mb"] > 0
    backend_loads = [f for f in printed if f["figure"] == "backends_load"]
    assert sorted((f["backend"], f["think_seconds"] > 0) for f in backend_loads) == [
        ("postgres", False), ("postgres", True), ("tinydb", False), ("tinydb", True)]
    for load in backend_loads + [figures["multi_server"]]:
        assert load["errors"] == [] and load["submitted"] == load["stored"] > 0 and load["lost"] == 0
    assert figures["multi_server"]["servers"] == 2 and figures["multi_server"]["ok"]
    report = figures["study_report"]
    assert report["csv_rows"] == report["patients"] * report["visits"] and report["report_s"] > 0
