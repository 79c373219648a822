"""Validates FHIR resources with fhir.resources 6.4.0's R4 (4.0.1) models, one JSON document per line.

Runs in its own virtual environment (.venv-fhir-r4, made by scripts/setup --test): fhir.resources
6.4 is the last release whose models are R4 (7.x and 8.x are R5 and R4B) and it needs pydantic 1,
while pro-app uses pydantic 2. Answers each line with "ok" or "error: ..." on one line.
"""
import json
import sys

import fhir.resources
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__
print(f"ready fhir.resources {fhir.resources.__version__} FHIR {fhir.resources.__fhir_version__}", flush=True)
for line in sys.stdin:
    try:
        resource = json.loads(line)
        construct_fhir_element(resource["resourceType"], resource)
        print("ok", flush=True)
    except Exception as exc:  # every failure is reported back to the test, never raised here
        print("error: " + " ".join(str(exc).split()), flush=True)
