"""Random mutations of every shipped questionnaire: the loader answers with file:line errors, never a crash."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pro_app.definitions import DefinitionErrors, Questionnaire, load_text

from helpers import ROOT

FILES = sorted((ROOT / "questionnaires").glob("*.yaml")) + [ROOT / "tests" / "fixtures" / "all_types.yaml"]
TEXTS = {path.name: path.read_text(encoding="utf-8") for path in FILES}
# Fragments an editor plausibly types by mistake, and a few a parser hates.
JUNK = st.sampled_from([
    "", " ", "  ", "\t", ":", "- ", "{", "}", "[", "]", "'", '"', "#", "&a", "*a", "!!python/object:os.system",
    "yes", "no", "null", "~", "1e999", "-1", "0x1F", "id: x", "type: grid", "show_if: {item: q1, equals: 1}",
    "options: nosuch", "rows: []", "items: 3", "\u00e5\u00e4\u00f6", "\ufeff", "\x00", "\x85", "\u2028", "%YAML 1.1",
    "---", "...", "<<: *a",
]) | st.text(max_size=12)


@st.composite
def mutated(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    lines = TEXTS[name].split("\n")
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "indent", "cut", "truncate"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            lines.insert(i, draw(JUNK))
        elif kind == "replace":
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            width = draw(st.integers(0, 6))
            lines[i] = line[:at] + draw(JUNK) + line[at + width:]
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "    ", "\t"])) + lines[i].lstrip()
        elif kind == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines = lines[:i]
    return name, "\n".join(lines)


# Modest by default; PRO_APP_FUZZ_EXAMPLES=5000 for a long hunt.
@settings(max_examples=int(os.environ.get("PRO_APP_FUZZ_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_questionnaire_loads_or_names_file_and_line(case):
    name, text = case
    try:
        q = load_text(text, name)
    except DefinitionErrors as exc:
        assert exc.errors, "DefinitionErrors without any error"
        last_line = text.count("\n") + 2
        for error in exc.errors:
            assert error.file == name
            assert 1 <= error.line <= last_line, str(error)
            assert str(error).startswith(f"{name}:{error.line}: ") and error.message
    else:
        assert isinstance(q, Questionnaire) and q.definition_hash.startswith("sha256:")


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_shipped_file_loads_unmutated(name):
    assert load_text(TEXTS[name], name).id
