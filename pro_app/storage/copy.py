"""``pro-app db copy``: a clinic's data from one store into another (TinyDB folder <-> PostgreSQL), verified.

Everything that is the clinic's record is copied exactly, ids, times and stamps included: staff
accounts, stored definitions, patients with their visits and responses, and the whole audit trail
(its order kept). Sessions, failed-login counts and drafts are not: they are minutes-long state,
and everyone logs in again after the move.

The copy goes one patient at a time (bounded memory) into an empty store only, and is then
verified by reading both stores again: the counts of every kind of record, and a checksum of every
response, visit, patient, user, definition and audit entry (``common.checksum``). An interrupted or
failed copy leaves the source as it was; empty the target and run it again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .common import audit_order, checksum

__all__ = ["CopyError", "CopyReport", "copy_store", "verify_copy"]


class CopyError(Exception):
    """The copy was refused (a target that holds data) or did not verify."""


@dataclass
class CopyReport:
    """What was copied and verified: counts per kind of record."""

    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in self.counts.items())


def copy_store(source: Any, target: Any, progress: Callable[[int], Any] | None = None) -> CopyReport:
    """Copy ``source`` into the empty ``target``, then verify it (``CopyError`` if anything differs)."""
    if not target.is_empty():
        raise CopyError("the target already holds patients or staff accounts: copy only into an empty store")
    target.import_users(source.list_users())
    target.import_definitions(source.definition_snapshots())
    for patient in source.list_patients():
        responses = source.list_responses(patient["id"])
        target.import_patient(patient, source.list_visits(patient["id"]), responses)
        if progress is not None:
            progress(len(responses))
    for batch in source.audit_batches():
        if batch:
            target.import_audit(batch)
    return verify_copy(source, target)


class _Tally:
    """Checksums of one kind of record, in any order: a count and the sum of their digests."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def add(self, record: dict[str, Any]) -> None:
        self.count += 1
        self.total = (self.total + int(checksum(record), 16)) % (1 << 256)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Tally) and (self.count, self.total) == (other.count, other.total)


def _fingerprints(store: Any) -> dict[str, _Tally]:
    tallies = {kind: _Tally() for kind in ("users", "definitions", "patients", "visits", "responses", "audit entries")}

    def tally(kind: str, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            tallies[kind].add(record)

    tally("users", store.list_users())
    tally("definitions", store.definition_snapshots())
    for patient in store.list_patients():
        tallies["patients"].add(patient)
        tally("visits", store.list_visits(patient["id"]))
        tally("responses", store.list_responses(patient["id"]))
    for batch in store.audit_batches():
        tally("audit entries", ({**entry, "seq": audit_order(entry)} for entry in batch))
    return tallies


def _response_checksums(store: Any, patient_id: str) -> dict[str, str]:
    return {r["id"]: checksum(r) for r in store.list_responses(patient_id)}


def verify_copy(source: Any, target: Any) -> CopyReport:
    """Both stores hold the same records: the same counts and checksums, kind by kind, response by response."""
    mine, theirs = _fingerprints(source), _fingerprints(target)
    differ = [kind for kind in mine if mine[kind] != theirs[kind]]
    problems = [f"{kind}: {mine[kind].count} in the source, {theirs[kind].count} copied" +
                ("" if mine[kind].count != theirs[kind].count else " (same count, different content)")
                for kind in differ]
    if "responses" in differ:  # name the responses that differ, the first few
        named = []
        for patient in source.list_patients():
            found = target.find_patient(patient["study_code"])
            there = _response_checksums(target, found["id"]) if found else {}
            for rid, digest in _response_checksums(source, patient["id"]).items():
                if there.get(rid) != digest:
                    named.append(f"response {rid} of {patient['study_code']}")
            if len(named) >= 5:
                break
        problems += named[:5]
    if problems:
        raise CopyError("the copy does not match its source: " + "; ".join(problems))
    return CopyReport({kind: tally.count for kind, tally in mine.items()})


def digest_of(store: Any) -> str:
    """One checksum of everything ``verify_copy`` compares (for a quick comparison of two stores)."""
    tallies = _fingerprints(store)
    text = ";".join(f"{kind}={t.count}:{t.total:064x}" for kind, t in tallies.items())
    return hashlib.sha256(text.encode("ascii")).hexdigest()
