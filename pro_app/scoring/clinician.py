"""Clinician-reported IMACS core set measures and trial forms: one module per instrument.

Importing this module registers the scorers ``mmt8``, ``myoact``, ``enzymes``, ``mfi2`` and
``adverse_events`` (the physician global assessment uses the ``vas`` scorer).
"""
from __future__ import annotations

from . import adverse_events, enzymes, mfi2, mmt8, myoact  # noqa: F401

__all__ = ["adverse_events", "enzymes", "mfi2", "mmt8", "myoact"]
