"""What changed between two versions of a questionnaire, and whether its version number says so.

Stored answers keep the hash of the definition they were answered against, so an edit never
reinterprets them; the *version number* is what people read in exports and summaries. The rule
(semver-like, ``MAJOR.MINOR.PATCH``; "1.0" is 1.0.0) is that a version names exactly one
definition, and the part of it that moves says what kind of change was made:

* **patch** (1.0 -> 1.0.1): wording only. Any text a person sees (titles, instructions,
  questions, help, options, anchors, grid rows, page texts, scale labels), the source and
  license notes, the order of options or rows. Answers and scores mean what they meant.
* **minor** (1.0 -> 1.1): additions and flow. A new item, grid row, page, option code or
  scale; skip logic; whether an item is required; items or pages moved or reordered; text limits.
  Every old answer and score still means what it meant, but new ones may exist.
* **major** (1.0 -> 2.0): meaning. An item, grid row, option code or scale removed; an option
  recoded (the same text now stored under another code); an item's type, range, unit or
  decimals; the audience; the scorer, its settings, or any scale's rule.

``compare`` lists the changes, each with the part of the version it needs; ``check_version``
applies the rule against the definitions a data folder has stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

from .definitions import (
    LANGUAGES,
    YESNO_OPTIONS,
    Condition,
    FreeText,
    Grid,
    Numeric,
    Option,
    Questionnaire,
    RatingScale,
    Text,
    WithOptions,
    YesNo,
)

__all__ = ["Change", "compare", "required_bump", "parse_version", "next_version", "check_version", "BUMPS",
           "describe_condition", "stored_definitions", "VersionUse", "version_usage"]

Bump = Literal["patch", "minor", "major"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")


@dataclass(frozen=True)
class Change:
    """One difference between two definitions, and the part of the version it needs raised."""

    bump: Bump
    where: str  # "item q3", "item q3 option 2", "page p1", "scale FSS", "questionnaire"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"

    def as_dict(self) -> dict[str, str]:
        return {"bump": self.bump, "where": self.where, "what": self.what}


# ------------------------------------------------------------------ versions


def parse_version(version: str) -> tuple[int, int, int] | None:
    """'1' -> (1, 0, 0), '1.2' -> (1, 2, 0), '1.2.3' -> (1, 2, 3); None when not numbers."""
    parts = str(version).strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def next_version(version: str, bump: Bump) -> str:
    """The smallest version after ``version`` that ``bump`` allows, written as short as it can be."""
    parsed = parse_version(version)
    if parsed is None:
        return {"patch": "1.0.1", "minor": "1.1", "major": "2.0"}[bump]
    major, minor, patch = parsed
    if bump == "major":
        return f"{major + 1}.0"
    if bump == "minor":
        return f"{major}.{minor + 1}"
    return f"{major}.{minor}.{patch + 1}"


def _allows(old: tuple[int, int, int], new: tuple[int, int, int], bump: Bump | None) -> bool:
    if new <= old:
        return False
    if bump == "major":
        return new[0] > old[0]
    if bump == "minor":
        return new[:2] > old[:2]
    return True


def required_bump(changes: Iterable[Change]) -> Bump | None:
    """The largest part of the version the changes need raised (None: no change at all)."""
    needed = [BUMPS.index(c.bump) for c in changes]
    return BUMPS[max(needed)] if needed else None


# ------------------------------------------------------------------ comparing


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit - 1]}…"'


def describe_condition(cond: Condition | None) -> str:
    """Skip logic as one line, e.g. ``aids1 = 1``, ``any(q2 >= 3, q4 answered)``."""
    if cond is None:
        return "always shown"
    if cond.all is not None:
        return "all(" + ", ".join(describe_condition(c) for c in cond.all) + ")"
    if cond.any is not None:
        return "any(" + ", ".join(describe_condition(c) for c in cond.any) + ")"
    if cond.equals is not None:
        return f"{cond.item} = {cond.equals}"
    if cond.in_ is not None:
        return f"{cond.item} in [{', '.join(map(str, cond.in_))}]"
    if cond.not_in is not None:
        return f"{cond.item} not in [{', '.join(map(str, cond.not_in))}]"
    if cond.gte is not None:
        return f"{cond.item} >= {cond.gte:g}"
    if cond.lte is not None:
        return f"{cond.item} <= {cond.lte:g}"
    return f"{cond.item} {'answered' if cond.answered else 'not answered'}"


class _Diff:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(self, bump: Bump, where: str, what: str) -> None:
        self.changes.append(Change(bump, where, what))

    def text(self, where: str, name: str, old: Text | None, new: Text | None, bump: Bump = "patch") -> None:
        if old == new:
            return
        if old is None or new is None:
            self.add(bump, where, f"{name} {'added' if old is None else 'removed'}")
            return
        for lang in LANGUAGES:
            before, after = old.get(lang), new.get(lang)
            if before != after:
                self.add(bump, where, f"{name} ({lang}) {_short(before)} -> {_short(after)}")

    def value(self, bump: Bump, where: str, name: str, old: Any, new: Any) -> None:
        if old != new:
            self.add(bump, where, f"{name} {old!r} -> {new!r}")


def _matched(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[tuple[str, Any, Any]], list[str], bool]:
    """``(key, old or None, new)`` in the new file's order, the keys removed, and whether the kept ones moved."""
    pairs = [(key, old.get(key), value) for key, value in new.items()]
    removed = [key for key in old if key not in new]
    return pairs, removed, [k for k in old if k in new] != [k for k in new if k in old]


def _options(item: Any, q: Questionnaire) -> list[Option] | None:
    if isinstance(item, WithOptions):
        return item.option_list(q)
    if isinstance(item, YesNo):
        return YESNO_OPTIONS
    return None


def _compare_options(diff: _Diff, where: str, old: list[Option], new: list[Option]) -> None:
    """Codes are what is stored: a text that moved to another code is a recode, not a wording change."""
    old_by_code = {str(o.code): o for o in old}
    new_by_code = {str(o.code): o for o in new}
    recoded: set[str] = set()
    for code, option in old_by_code.items():
        moved = next((n for c, n in new_by_code.items() if c != code and n.text == option.text), None)
        if moved is not None and (code not in new_by_code or new_by_code[code].text != option.text):
            recoded.add(code)
            diff.add("major", f"{where} option {code}", f"recoded: {_short(option.text.get('en'))} is now code {moved.code!r}")
    for code, option in old_by_code.items():
        if code in recoded:
            continue
        if code not in new_by_code:
            diff.add("major", f"{where} option {code}", f"removed ({_short(option.text.get('en'))})")
        else:
            diff.text(f"{where} option {code}", "text", option.text, new_by_code[code].text)
    moved_to = {str(n.code) for c in recoded for n in new if n.text == old_by_code[c].text}
    for code, option in new_by_code.items():
        if code not in old_by_code and code not in moved_to:
            diff.add("minor", f"{where} option {code}", f"added ({_short(option.text.get('en'))})")
    common_old = [str(o.code) for o in old if str(o.code) in new_by_code]
    common_new = [str(o.code) for o in new if str(o.code) in old_by_code]
    if common_old != common_new and not recoded:
        diff.add("patch", where, "options reordered: " + ", ".join(common_new))


def _compare_item(diff: _Diff, old: Any, new: Any, old_q: Questionnaire, new_q: Questionnaire) -> None:
    where = f"item {new.id}"
    if old.type != new.type:
        diff.add("major", where, f"type {old.type} -> {new.type}")
        return
    diff.text(where, "text", old.text, new.text)
    diff.text(where, "help", old.help, new.help)
    diff.value("minor", where, "required", old.required, new.required)
    if old.show_if != new.show_if:
        diff.add("minor", where, f"skip logic: {describe_condition(old.show_if)} -> {describe_condition(new.show_if)}")
    if isinstance(old, (Numeric, RatingScale)):
        for name in ("min", "max") + (("unit", "decimals") if isinstance(old, Numeric) else ()):
            diff.value("major", where, name, getattr(old, name), getattr(new, name))
    anchors_old, anchors_new = getattr(old, "anchors", None), getattr(new, "anchors", None)
    if anchors_old is not None and anchors_new is not None:
        diff.text(where, "left anchor", anchors_old.min, anchors_new.min)
        diff.text(where, "right anchor", anchors_old.max, anchors_new.max)
    # Fields without a rule above (added to the models later): a change may change meaning, so minor.
    handled = {"id", "type", "text", "help", "required", "show_if", "min", "max", "unit", "decimals", "anchors",
               "max_length", "multiline", "options", "option_set", "none_option", "rows"}
    before_fields, after_fields = old.model_dump(exclude=handled), new.model_dump(exclude=handled)
    for name in sorted(set(before_fields) | set(after_fields)):
        diff.value("minor", where, name, before_fields.get(name), after_fields.get(name))
    if isinstance(old, FreeText):
        diff.value("minor", where, "max_length", old.max_length, new.max_length)
        diff.value("patch", where, "multiline", old.multiline, new.multiline)
    old_options, new_options = _options(old, old_q), _options(new, new_q)
    if old_options is not None and new_options is not None:
        _compare_options(diff, where, old_options, new_options)
    if isinstance(old, Grid):
        rows, removed, reordered = _matched({r.id: r for r in old.rows}, {r.id: r for r in new.rows})
        for row_id, before, row in rows:
            if before is None:
                diff.add("minor", f"{where} row {row_id}", f"added ({_short(row.text.get('en'))})")
            else:
                diff.text(f"{where} row {row_id}", "text", before.text, row.text)
        for row_id in removed:
            diff.add("major", f"{where} row {row_id}", f"removed ({_short(next(r for r in old.rows if r.id == row_id).text.get('en'))})")
        if reordered:
            diff.add("patch", where, "rows reordered")


def _scale_rule(scale: Any) -> dict[str, Any]:
    return scale.model_dump(exclude={"id", "label"})


def compare(old: Questionnaire, new: Questionnaire) -> list[Change]:
    """Every difference between two definitions, in the order of the file."""
    diff = _Diff()
    top = "questionnaire"
    diff.value("major", top, "id", old.id, new.id)
    diff.value("major", top, "audience", old.audience, new.audience)
    for name in ("title", "short_title", "instructions", "license"):
        diff.text(top, name.replace("_", " "), getattr(old, name), getattr(new, name))
    if old.source != new.source:
        diff.add("patch", top, "source changed")
    diff.text(top, "provisional", old.provisional, new.provisional)

    pages, removed, reordered = _matched({p.id: p for p in old.pages}, {p.id: p for p in new.pages})
    for page_id, before, page in pages:
        where = f"page {page_id}"
        if before is None:
            diff.add("minor", where, "added")
            continue
        diff.text(where, "title", before.title, page.title)
        diff.text(where, "intro", before.intro, page.intro)
        if before.show_if != page.show_if:
            diff.add("minor", where, f"skip logic: {describe_condition(before.show_if)} -> {describe_condition(page.show_if)}")
    for page_id in removed:
        diff.add("minor", f"page {page_id}", "removed (its items are listed one by one)")
    if reordered:
        diff.add("minor", top, "pages reordered")

    items, removed, reordered = _matched({i.id: (i, p.id) for p in old.pages for i in p.items},
                                         {i.id: (i, p.id) for p in new.pages for i in p.items})
    for item_id, before, (item, page_id) in items:
        if before is None:
            diff.add("minor", f"item {item_id}", f"added ({item.type}) on page {page_id}: {_short(item.text.get('en'))}")
            continue
        if before[1] != page_id:
            diff.add("minor", f"item {item_id}", f"moved from page {before[1]} to page {page_id}")
        _compare_item(diff, before[0], item, old, new)
    for item_id in removed:
        gone = old.item(item_id)
        diff.add("major", f"item {item_id}", f"removed ({gone.type}): {_short(gone.text.get('en'))}")
    if reordered:
        diff.add("minor", top, "items reordered")

    diff.value("major", "scoring", "scorer", old.scoring.scorer, new.scoring.scorer)
    if old.scoring.options != new.scoring.options:
        diff.add("major", "scoring", f"options {old.scoring.options!r} -> {new.scoring.options!r}")
    scales, removed, _reordered = _matched({x.id: x for x in old.scoring.scales}, {x.id: x for x in new.scoring.scales})
    for scale_id, before, scale in scales:
        where = f"scale {scale_id}"
        if before is None:
            diff.add("minor", where, "added")
            continue
        diff.text(where, "label", before.label, scale.label)
        rule_old, rule_new = _scale_rule(before), _scale_rule(scale)
        for name in rule_new:
            diff.value("major", where, name, rule_old.get(name), rule_new[name])
    for scale_id in removed:
        diff.add("major", f"scale {scale_id}", "removed")
    return diff.changes


# ------------------------------------------------------------------ the rule against stored definitions


def _summary(changes: list[Change], bump: Bump, limit: int = 3) -> str:
    shown = [str(c) for c in changes if c.bump == bump][:limit]
    more = sum(1 for c in changes if c.bump == bump) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


KIND = {"patch": "wording", "minor": "additions", "major": "changes in meaning"}


def check_version(new: Questionnaire, stored: list[Questionnaire], place: str = "in the data folder") -> list[str]:
    """Why ``new`` may not be used with a data folder that holds ``stored`` definitions (empty: it may).

    ``stored`` are the definitions answered so far, each with its ``definition_hash``;
    those of other questionnaires are ignored. ``place`` says where they come from, for the messages.
    """
    same_id = [s for s in stored if s.id == new.id]
    if not same_id or any(s.definition_hash == new.definition_hash for s in same_id):
        return []
    version = parse_version(new.version)
    same_version = [s for s in same_id if s.version == new.version
                    or (version is not None and parse_version(s.version) == version)]
    parsed = [(v, s) for s in same_id if (v := parse_version(s.version)) is not None]
    latest_version, latest = max(parsed, key=lambda pair: pair[0]) if parsed else (None, same_id[-1])
    if same_version:
        old = same_version[0]
        changes = compare(old, new)
        bump = required_bump(changes) or "patch"
        if changes:
            what = f"it differs from that definition by {KIND[bump]} ({_summary(changes, bump)})"
        else:
            what = "it differs from that definition only in how the file is written"
        return [
            f"version {new.version} is already used for a different definition {place} "
            f"({old.definition_hash[:19]}…), and {what}; give it version {next_version(latest.version, bump)} "
            f"or higher so that answers to the two can be told apart"
        ]
    if latest_version is None:
        return []  # no stored version is a number: a different version string is all that can be asked
    if version is None:
        return [f"version {new.version!r} cannot be compared with the stored version {latest.version}: "
                "write it as numbers, MAJOR.MINOR.PATCH (e.g. 1.0 or 1.0.1)"]
    if version < latest_version:
        return [f"version {new.version} is lower than version {latest.version}, already used {place}; "
                "versions only go up"]
    changes = compare(latest, new)
    bump = required_bump(changes)
    if bump in ("minor", "major") and not _allows(latest_version, version, bump):
        return [
            f"{KIND[bump]} since version {latest.version} ({_summary(changes, bump)}) need a {bump} version "
            f"change: {next_version(latest.version, bump)} or higher, not {new.version}"
        ]
    return []


def stored_definitions(snapshots: list[dict[str, Any]]) -> tuple[list[Questionnaire], list[str]]:
    """Stored snapshots (``Store.definition_snapshots()``) as models, and the hashes that no longer load."""
    from pydantic import ValidationError

    models: list[Questionnaire] = []
    unreadable: list[str] = []
    for snapshot in snapshots:
        try:
            model = Questionnaire.model_validate(snapshot["definition"])
        except (ValidationError, KeyError, TypeError):
            unreadable.append(str(snapshot.get("hash")))
            continue
        models.append(model.model_copy(update={"definition_hash": snapshot["hash"],
                                               "source_file": f"(stored {str(snapshot['hash'])[:19]})"}))
    return models, unreadable


@dataclass
class VersionUse:
    """One definition of a questionnaire and the responses answered against it."""

    version: str
    hash: str
    responses: int = 0
    completed: int = 0
    active: bool = False  # the definition the app loads now
    shared_version: bool = False  # another stored definition has the same version number


def version_usage(questionnaires: Iterable[Questionnaire], snapshots: Iterable[dict[str, Any]],
                  responses: Iterable[dict[str, Any]]) -> dict[str, list[VersionUse]]:
    """Per questionnaire id: every definition in use or stored, newest version first, with response counts."""
    table: dict[str, dict[str, VersionUse]] = {}

    def entry(qid: str, version: str, digest: str) -> VersionUse:
        return table.setdefault(qid, {}).setdefault(digest, VersionUse(str(version), digest))

    for q in questionnaires:
        entry(q.id, q.version, q.definition_hash).active = True
    for snapshot in snapshots:
        entry(snapshot["id"], snapshot["version"], snapshot["hash"])
    for response in responses:
        use = entry(response["questionnaire"], response["version"], response["definition_hash"])
        use.responses += 1
        use.completed += response.get("status") == "completed"
    out: dict[str, list[VersionUse]] = {}
    for qid, uses in table.items():
        rows = sorted(uses.values(), key=lambda u: (u.active, parse_version(u.version) or (-1, -1, -1)), reverse=True)
        same = [parse_version(row.version) or row.version for row in rows]  # "1.0" and "1.0.0" are one version
        for row, key in zip(rows, same):
            row.shared_version = same.count(key) > 1
        out[qid] = rows
    return out
