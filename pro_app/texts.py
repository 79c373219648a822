"""Every text a person sees, out to a spreadsheet for translators and back into the YAML.

``export_rows`` finds every text of a questionnaire file, one row per text with columns
``path, sv, en``: title, instructions, page titles and intros, questions, help, options
(inline and in option sets), anchors, grid rows, scale labels, the license notes, and any
text a later version of the format adds (a text is any mapping of the language keys).
A ``path`` names a text by ids and codes, not by position, so rows survive reordering:
``pages[p1].items[q3].options[2].text``, ``option_sets.freq[1].text``,
``scoring.scales[total].label``.

``import_rows`` writes a spreadsheet back with ruamel.yaml's round trip, so comments, key
order, quoting and folded paragraphs stay as they were; only changed texts are touched.
A row whose path no longer exists, a text emptied by mistake, or a result that is not a
valid questionnaire is refused with its row number, and then nothing is written.
"""
from __future__ import annotations

import csv
import io
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString, ScalarString

from .definitions import LANGUAGE_NAMES, LANGUAGES, DefinitionErrors, load_text, read_text

__all__ = ["TextRow", "TextImportError", "ImportResult", "export_rows", "write_csv", "read_csv", "import_rows",
           "COLUMNS"]

COLUMNS = ("path", *LANGUAGES)
# Folded paragraphs (">-") are wrapped again at this width when their text changes.
WRAP = 88


@dataclass(frozen=True)
class TextRow:
    path: str
    texts: dict[str, str]  # language -> text ("" where the file has none yet)
    row: int = 0  # the spreadsheet row it came from (the header is row 1)


class TextImportError(Exception):
    """Problems with a spreadsheet or its result; nothing was written."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))


@dataclass
class ImportResult:
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (path, language, new text)
    written: bool = False


# ------------------------------------------------------------------ the YAML side


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order, flow/block style and quotes survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a line the author wrapped (or did not)
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of the shipped questionnaires
    return yaml


def _load(text: str, file: str) -> Any:
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise TextImportError([f"{file}:{line}: YAML: {getattr(exc, 'problem', None) or exc}"]) from None


def _is_text(node: Any) -> bool:
    return (isinstance(node, dict) and bool(node) and set(node) <= set(LANGUAGES)
            and all(isinstance(v, (str, int, float)) or v is None for v in node.values()))


def _selector(element: Any, index: int) -> str:
    """How a list element is named in a path: its id, else its code, else its position."""
    if isinstance(element, dict):
        for key in ("id", "code", "key"):
            value = element.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and not set(str(value)) & set("[]"):
                return str(value)
    return f"#{index}"


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict]]:
    if _is_text(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{_selector(value, index)}]")


def _texts(data: Any) -> tuple[dict[str, dict], set[str]]:
    """Every text node by path, and the paths that name more than one node (duplicate ids)."""
    found: dict[str, dict] = {}
    ambiguous: set[str] = set()
    for path, node in _walk(data, ""):
        if path in found:
            ambiguous.add(path)
        found[path] = node
    return found, ambiguous


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def export_rows(path: str | Path) -> list[TextRow]:
    """One row per text of a questionnaire file, in the order of the file (the file need not be valid yet)."""
    file = str(path)
    data = _load(read_text(Path(path)), file)
    nodes, _ambiguous = _texts(data)
    return [TextRow(p, {lang: _cell(node.get(lang)) for lang in LANGUAGES}) for p, node in nodes.items()]


# ------------------------------------------------------------------ the spreadsheet side


def write_csv(rows: list[TextRow], out: io.TextIOBase) -> None:
    """CSV with a header ``path,sv,en``; the caller opens ``out`` with utf-8-sig so spreadsheets read å, ä, ö."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.path, *(row.texts[lang] for lang in LANGUAGES)])


def read_csv(path: str | Path) -> list[TextRow]:
    """Rows of a translated spreadsheet saved as CSV: comma, semicolon (Swedish Excel) or tab separated."""
    name = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TextImportError([f"{name}: not UTF-8 text: save the spreadsheet as 'CSV UTF-8'"]) from None
    except OSError as exc:
        raise TextImportError([f"{name}: cannot read: {exc.strerror}"]) from None
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise TextImportError([f"{name}: the file is empty"]) from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise TextImportError([f"{name}: row 1: the header needs the columns {', '.join(COLUMNS)}; "
                               f"missing: {', '.join(missing)}"])
    columns = {c: header.index(c) for c in COLUMNS}
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(column: str) -> str:
            index = columns[column]
            return cells[index].replace("\r\n", "\n").strip() if index < len(cells) else ""

        rows.append(TextRow(cell("path"), {lang: cell(lang) for lang in LANGUAGES}, number))
    return rows


# ------------------------------------------------------------------ writing back


def _styled(old: Any, new: str) -> Any:
    """The new text in the old one's style: quotes kept, a folded paragraph folded again."""
    if isinstance(old, FoldedScalarString):
        folded = FoldedScalarString(new)
        positions, at = [], 0
        for line in textwrap.wrap(new, WRAP, break_long_words=False, break_on_hyphens=False)[:-1]:
            at = new.index(line, at) + len(line)
            # Fold only at a single space: a line that starts with a space is not folded back.
            if new[at:at + 1] == " " and new[at + 1:at + 2] not in (" ", "") and new[at - 1:at] != " ":
                positions.append(at)
        folded.fold_pos = positions  # type: ignore[attr-defined]
        return folded
    if isinstance(old, LiteralScalarString) or "\n" in new:
        return LiteralScalarString(new)
    if isinstance(old, ScalarString):
        return type(old)(new)
    return new


def import_rows(rows: list[TextRow], yaml_path: str | Path, source: str = "texts.csv",
                dry_run: bool = False) -> ImportResult:
    """Write the rows' texts into the YAML file, or raise TextImportError and write nothing."""
    file = str(yaml_path)
    original = read_text(Path(yaml_path))
    data = _load(original, file)
    nodes, ambiguous = _texts(data)
    problems: list[str] = []
    seen: dict[str, int] = {}
    result = ImportResult()
    for row in rows:
        where = f"{source}: row {row.row}: {row.path or '(no path)'}"
        if row.path in seen:
            problems.append(f"{where}: the same path is also on row {seen[row.path]}")
            continue
        seen[row.path] = row.row
        node = nodes.get(row.path)
        if node is None:
            problems.append(f"{where}: no such text in {file} any more (renamed or removed?); "
                            "export the texts again and copy the translation over")
            continue
        if row.path in ambiguous:
            problems.append(f"{where}: names more than one text in {file} (duplicate ids)")
            continue
        for lang in LANGUAGES:
            new, old = row.texts[lang], node.get(lang)
            if new == _cell(old).strip() or new == _cell(old):
                continue
            if not new:
                problems.append(f"{where}: the {LANGUAGE_NAMES[lang]} cell is empty; a text is not removed by an "
                                "import (fill it in, or delete the row to leave the text as it is)")
                continue
            if lang in node:
                node[lang] = _styled(old, new)
            else:  # a text not yet written in this language: add it where the languages are in order
                assert isinstance(node, CommentedMap)
                node.insert(sum(1 for other in LANGUAGES[:LANGUAGES.index(lang)] if other in node), lang, new)
            result.changed.append((row.path, lang, new))
    if problems:
        raise TextImportError(problems)
    if not result.changed:
        return result
    out = io.StringIO()
    _yaml().dump(data, out)
    updated = out.getvalue()
    reread, _ambiguous = _texts(_load(updated, file))
    for path, lang, text in result.changed:  # what a reader of the file gets is what the translator wrote
        if _cell(reread[path].get(lang)) != text:  # pragma: no cover - a ruamel emitter bug
            raise TextImportError([f"{source}: {path} ({lang}) would not read back as written; {file} is unchanged"])
    try:
        load_text(updated, file)
    except DefinitionErrors as exc:
        raise TextImportError([f"{source}: the questionnaire would not be valid with these texts, so {file} is "
                               "unchanged (lines as they would be):", *(str(e) for e in exc.errors)]) from None
    if not dry_run:
        _replace(Path(yaml_path), updated)
        result.written = True
    return result


def _replace(path: Path, text: str) -> None:
    """Write beside the file and rename over it: an editor or the app never reads half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
