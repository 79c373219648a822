"""The benchmarks keep running: ``python -m benchmarks --quick`` prints every figure and finds nothing lost."""
from __future__ import annotations

import json
import subprocess
import sys

from helpers import ROOT


def test_quick_benchmarks_print_every_figure_as_json(tmp_path):
    out = tmp_path / "quick.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    figures = {f["figure"]: f for f in map(json.loads, run.stdout.splitlines())}
    assert set(figures) == {"save_scaling", "plain_tinydb_insert", "render_sf36_page", "score_sf36",
                            "startup_memory", "load_http", "study_report"}
    assert json.loads(out.read_text())["figures"] == list(figures.values())
    load = figures["load_http"]
    assert load["errors"] == [] and load["submitted"] == load["stored"] > 0
    assert load["lost"] == load["duplicates"] == 0
    assert figures["save_scaling"]["small"]["median_ms"] > 0
    report = figures["study_report"]
    assert report["csv_rows"] == report["patients"] * report["visits"] and report["report_s"] > 0
