"""A writer process for the storage tests: writes responses and prints each id once it is acknowledged.

Usage: python storage_writer.py DATA_DIR|DATABASE_URL PATIENT_ID VISIT_ID COUNT TAG
"""
from __future__ import annotations

import sys

from pro_app.definitions import load_file
from pro_app.config import questionnaire_dir
from pro_app.storage import open_store


def main() -> None:
    address, patient_id, visit_id, count, tag = sys.argv[1:6]
    store = open_store(address)
    q = load_file(questionnaire_dir() / "patient_global.yaml")
    for n in range(int(count)):
        # One visit per response: the store allows one response per visit and questionnaire.
        visit = store.add_visit(patient_id, f"writer:{tag}", key=f"{tag}-{n}", label={"sv": "x", "en": "x"},
                                questionnaires=[q.id])
        response = store.start_response(patient_id, visit["id"], q, f"writer:{tag}", "sv")
        store.save_answers(patient_id, response["id"], f"writer:{tag}", {"PtGA": float(n % 100)})
        store.complete_response(patient_id, response["id"], f"writer:{tag}")
        print(response["id"], flush=True)


if __name__ == "__main__":
    main()
