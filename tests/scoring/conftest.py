"""Fixtures for scorer tests: the questionnaires as shipped in questionnaires/."""
from __future__ import annotations

import pytest

from pro_app.definitions import Questionnaire, load_directory
from scoring_helpers import QUESTIONNAIRE_DIR


@pytest.fixture(scope="session")
def questionnaires() -> dict[str, Questionnaire]:
    return load_directory(QUESTIONNAIRE_DIR)


@pytest.fixture(scope="session")
def haq(questionnaires: dict[str, Questionnaire]) -> Questionnaire:
    return questionnaires["haq"]


@pytest.fixture(scope="session")
def sf36(questionnaires: dict[str, Questionnaire]) -> Questionnaire:
    return questionnaires["sf36"]


@pytest.fixture(scope="session")
def map_q(questionnaires: dict[str, Questionnaire]) -> Questionnaire:
    return questionnaires["map"]


@pytest.fixture(scope="session")
def fss(questionnaires: dict[str, Questionnaire]) -> Questionnaire:
    return questionnaires["fss"]
