#!/usr/bin/env python3
"""Mutation testing of the scoring code: does some test fail when one operator or constant changes?

Each mutant changes exactly one thing in one module (an arithmetic or comparison operator,
``and``/``or``, a number, ``True``/``False``, a unary minus or ``not``) anywhere in the
module: function bodies, decorated functions and module-level tables alike. The mutated module
is written into a private copy of the repository and the tests that cover it run there
(stopping at the first failure). A mutant no test kills *survives*: either a test is missing,
or the mutant is equivalent (it cannot change any result). Known equivalent mutants are listed,
with the reason, in ``docs/scoring.md`` under "Equivalent mutants"; this script marks them.

    .venv/bin/python scripts/mutate.py                       # outcomes.py and scoring/*.py
    .venv/bin/python scripts/mutate.py pro_app/scoring/haq.py --jobs 2
    .venv/bin/python scripts/mutate.py --list pro_app/outcomes.py   # only list the mutants

Exit status 1 when a mutant survives that is not listed as equivalent. Not part of the test
suite: a full run takes about half an hour on two cores (see docs/scoring.md).
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGETS = ["pro_app/outcomes.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pro_app" / "scoring").glob("*.py"))]
COPY = ["pro_app", "tests", "questionnaires", "studies", "translations", "pyproject.toml"]
# The tests that pin each module's rules (the deterministic ones first: -x stops at the first failure).
SCORING = ["tests/scoring/test_scale_metadata.py", "tests/scoring/test_golden.py", "tests/scoring/test_properties.py"]
CRITERIA = ["tests/outcomes/test_criteria.py", "tests/outcomes/test_scale_changes.py", "tests/outcomes/test_cli.py",
            "tests/outcomes/test_property_criteria.py"]
# Property tests draw fewer examples per mutant (the deterministic golden cases carry the weight).
PROPERTY_EXAMPLES = "60"
TESTS: dict[str, list[str]] = {
    "pro_app/outcomes.py": CRITERIA,
    "pro_app/scoring/__init__.py": ["tests/scoring", *CRITERIA],
    "pro_app/scoring/haq.py": ["tests/scoring/test_haq.py", *SCORING, *CRITERIA],
    "pro_app/scoring/sf36.py": ["tests/scoring/test_sf36.py", *SCORING],
    "pro_app/scoring/map.py": ["tests/scoring/test_map.py", *SCORING],
    "pro_app/scoring/declarative.py": ["tests/scoring/test_declarative.py", "tests/scoring/test_declarative_fss.py",
                                       *SCORING],
    "pro_app/scoring/enzymes.py": ["tests/scoring/test_clinician.py", *SCORING, *CRITERIA],
}
FALLBACK_TESTS = ["tests/scoring/test_clinician.py", *SCORING, *CRITERIA]
EQUIVALENT_DOC = ROOT / "docs" / "scoring.md"

SWAPS: dict[type, list[type]] = {
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
    ast.FloorDiv: [ast.Div], ast.Mod: [ast.FloorDiv], ast.Pow: [ast.Mult],
    ast.Lt: [ast.LtE], ast.LtE: [ast.Lt], ast.Gt: [ast.GtE], ast.GtE: [ast.Gt],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.In: [ast.NotIn], ast.NotIn: [ast.In],
    ast.Is: [ast.IsNot], ast.IsNot: [ast.Is], ast.And: [ast.Or], ast.Or: [ast.And],
}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
          ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
          ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or"}


@dataclass
class Mutant:
    file: str
    index: int  # position of the node in ast.walk order (stable for a given source)
    line: int
    column: int
    what: str  # e.g. "< -> <="

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.what}"


def _skipped(tree: ast.AST) -> set[int]:
    """Nodes never mutated: docstrings, f-string parts, annotations, __all__, assert statements."""
    out: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            out.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, (ast.JoinedStr, ast.Assert)):  # messages; asserts narrow types, they are no rule
            out.update(id(n) for n in ast.walk(node))
        for name in ("annotation", "returns"):
            sub = getattr(node, name, None)
            if isinstance(sub, ast.AST):
                out.update(id(n) for n in ast.walk(sub))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            out.update(id(n) for n in ast.walk(node))
    return out


def _changes(node: ast.AST) -> list[tuple[str, object]]:
    """(description, replacement) for every mutation of one node."""
    out: list[tuple[str, object]] = []
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        for new in SWAPS.get(type(node.op), []):
            out.append((f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}", ("op", new)))
    elif isinstance(node, ast.BoolOp):
        for new in SWAPS.get(type(node.op), []):
            out.append((f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}", ("op", new)))
    elif isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            for new in SWAPS.get(type(op), []):
                out.append((f"{SYMBOL[type(op)]} -> {SYMBOL[new]}", ("cmp", k, new)))
    elif isinstance(node, ast.Constant) and not isinstance(node.value, str) and node.value is not None:
        value = node.value
        if isinstance(value, bool):
            out.append((f"{value} -> {not value}", ("const", not value)))
        elif isinstance(value, (int, float)) and value == value and value not in (float("inf"), float("-inf")):
            out.append((f"{value!r} -> {value + 1!r}", ("const", value + 1)))
            if value not in (0, 1):
                out.append((f"{value!r} -> 0", ("const", type(value)(0))))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        out.append((f"remove {'-' if isinstance(node.op, ast.USub) else 'not'}", ("unwrap",)))
    return out


def mutants(file: str) -> list[Mutant]:
    source = (ROOT / file).read_text(encoding="utf-8")
    tree = ast.parse(source)
    skipped = _skipped(tree)
    out = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        for what, _change in _changes(node):
            out.append(Mutant(file, index, getattr(node, "lineno", 0), getattr(node, "col_offset", 0), what))
    return out


def mutated_source(m: Mutant) -> str:
    tree = ast.parse((ROOT / m.file).read_text(encoding="utf-8"))
    nodes = list(ast.walk(tree))
    node = nodes[m.index]
    change = dict(_changes(node))[m.what]
    kind = change[0]
    if kind == "op":
        node.op = change[1]()
    elif kind == "cmp":
        node.ops[change[1]] = change[2]()
    elif kind == "const":
        node.value = change[1]
    elif kind == "unwrap":
        for parent in nodes:
            for field, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, field, node.operand)
                elif isinstance(value, list) and node in value:
                    value[value.index(node)] = node.operand
    return ast.unparse(ast.fix_missing_locations(tree))


def tests_for(file: str) -> list[str]:
    """The test paths that cover a module (only those that exist; each once)."""
    return [t for t in dict.fromkeys(TESTS.get(file, FALLBACK_TESTS)) if (ROOT / t).exists()]


def equivalent_ids() -> set[str]:
    """Mutant ids listed as equivalent in docs/scoring.md (lines like "- `pro_app/x.py:12:8: < -> <=`: why")."""
    if not EQUIVALENT_DOC.exists():
        return set()
    return set(re.findall(r"`(pro_app/[^`]+?:\d+:\d+: [^`]+)`", EQUIVALENT_DOC.read_text(encoding="utf-8")))


class Workspace:
    """A private copy of the repository where one mutated module at a time is tested."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pro-app-mutate-"))
        for name in COPY:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, self.dir / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif src.exists():
                shutil.copy2(src, self.dir / name)

    def run(self, m: Mutant, timeout: float) -> tuple[bool, float]:
        """Test one mutant; (killed, seconds)."""
        target = self.dir / m.file
        original = (ROOT / m.file).read_text(encoding="utf-8")
        target.write_text(mutated_source(m), encoding="utf-8")
        start = time.monotonic()
        try:
            killed = not self.passes(tests_for(m.file), timeout)
        finally:
            target.write_text(original, encoding="utf-8")
        return killed, time.monotonic() - start

    def passes(self, tests: list[str], timeout: float) -> bool:
        env = {**os.environ, "PYTHONPATH": str(self.dir), "PYTHONDONTWRITEBYTECODE": "1",
               "PRO_APP_PROPERTY_EXAMPLES": PROPERTY_EXAMPLES}
        try:
            result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                     "-m", "not browser", *tests],
                                    cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            return False  # an endless loop is a failing test
        return result.returncode == 0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", default=DEFAULT_TARGETS, help="modules to mutate (repository paths)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (each in its own copy)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a mutant's tests count as failed")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    args = parser.parse_args(argv)

    todo = [m for f in args.files for m in mutants(f)]
    if args.list:
        for m in todo:
            print(m.id)
        print(f"{len(todo)} mutants", file=sys.stderr)
        return 0
    known = equivalent_ids()
    spaces = [Workspace() for _ in range(max(1, args.jobs))]
    # The unmutated code must pass, or every mutant would look killed.
    for file in dict.fromkeys(m.file for m in todo):
        if not spaces[0].passes(tests_for(file), args.timeout):
            for space in spaces:
                space.close()
            print(f"the tests of {file} fail on the unmutated code: fix them first", file=sys.stderr)
            return 2
    free = list(spaces)
    survivors: list[Mutant] = []
    per_file: dict[str, list[int]] = {}
    started = time.monotonic()

    def work(m: Mutant) -> tuple[Mutant, bool, float]:
        space = free.pop()
        try:
            killed, seconds = space.run(m, args.timeout)
        finally:
            free.append(space)
        return m, killed, seconds

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(spaces)) as pool:
            for done, (m, killed, seconds) in enumerate(pool.map(work, todo), 1):
                counts = per_file.setdefault(m.file, [0, 0])
                counts[0] += 1
                if not killed:
                    counts[1] += 1
                    survivors.append(m)
                    flag = "equivalent" if m.id in known else "SURVIVED"
                    print(f"[{done}/{len(todo)}] {flag}: {m.id} ({seconds:.1f} s)", flush=True)
                elif done % 25 == 0:
                    print(f"[{done}/{len(todo)}] {time.monotonic() - started:.0f} s", flush=True)
    finally:
        for space in spaces:
            space.close()
    print(f"\n{len(todo)} mutants in {time.monotonic() - started:.0f} s")
    for file, (total, alive) in per_file.items():
        print(f"  {file}: {alive} of {total} alive")
    unexplained = [m for m in survivors if m.id not in known]
    print(f"{len(survivors)} survived: {len(survivors) - len(unexplained)} listed as equivalent in docs/scoring.md, "
          f"{len(unexplained)} not")
    for m in unexplained:
        print(f"  {m.id}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
