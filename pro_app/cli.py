"""The ``pro-app`` command: thin wrappers over the modules.

Each subcommand lives in this one file so ``pro-app --help`` and this file read the same.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import config
from .definitions import validate_paths

__all__ = ["main"]


@click.group(help="pro-app: patient-reported outcomes for myositis clinics.")
def main() -> None:
    pass


def _store():
    """The configured store (PRO_APP_DATABASE_URL, else the data folder), or a clear error."""
    from .storage import StorageError, open_store

    try:
        return open_store(config.storage_address())
    except StorageError as exc:
        raise click.ClickException(str(exc))


def _progress(total: int, what: str):
    """A progress bar of responses on standard error, shown only on a terminal (not in a pipe or a log)."""
    from tqdm import tqdm

    try:
        width, height = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        width, height = 0, 0
    # A terminal that reports no size (a serial console, a bare pty) still gets a bar of 80 columns.
    return tqdm(total=total, unit=" responses", desc=what, file=sys.stderr, disable=None,
                ncols=width if width > 0 else 80, nrows=height if height > 0 else 24, mininterval=0.5)


def _questionnaires() -> dict:
    """Every questionnaire, or a clear error naming the bad file and line."""
    from .definitions import DefinitionErrors, load_directory

    try:
        return load_directory(config.questionnaire_dir())
    except DefinitionErrors as exc:
        raise click.ClickException(str(exc))


# ---------------------------------------------------------------- questionnaires


@main.command(help="Check questionnaire YAML files; every error as file:line: where: what. With a data folder "
                    "(--data, or PRO_APP_DATA_DIR), also check each version against the definitions answered there.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--data", "data", type=click.Path(file_okay=False), envvar=["PRO_APP_DATABASE_URL", "PRO_APP_DATA_DIR"],
              help="Data folder (or postgresql:// URL) whose stored definitions the versions are checked against.")
def validate(paths: tuple[str, ...], data: str | None) -> None:
    targets = list(paths) or [str(config.questionnaire_dir())]
    missing = [p for p in targets if not Path(p).exists()]
    for p in missing:
        click.echo(f"{p}:1: file: no such file or folder", err=True)
    questionnaires, errors = validate_paths([p for p in targets if p not in missing])
    if data:
        errors += _version_errors(questionnaires, data)
    for error in errors:
        click.echo(str(error), err=True)
    if errors or missing:
        click.echo(f"{len(errors) + len(missing)} error(s)", err=True)
        sys.exit(1)
    if not questionnaires:
        click.echo("no questionnaire files found", err=True)
        sys.exit(1)
    for q in sorted(questionnaires.values(), key=lambda q: q.source_file):
        n_items = len(q.answer_ids())
        click.echo(
            f"{q.source_file}: ok: {q.id} v{q.version}, {len(q.pages)} page(s), {n_items} item(s), "
            f"scorer {q.scoring.scorer}, {q.audience}"
        )


def _version_errors(questionnaires: dict, data: str) -> list:
    """Each questionnaire's version against the definitions stored in ``data`` (the rule: pro_app/versions.py)."""
    from .definitions import DefinitionError
    from .storage import StorageError, is_database_url, open_store
    from .versions import check_version, stored_definitions

    if not is_database_url(data) and not (Path(data) / "definitions").is_dir():
        click.echo(f"no stored definitions in {data}: versions not checked")
        return []
    try:
        store = open_store(data)
        snapshots = store.definition_snapshots()
        store.close()
    except StorageError as exc:
        raise click.ClickException(str(exc))
    stored, unreadable = stored_definitions(snapshots)
    if is_database_url(data):
        from .storage.postgres import redacted

        data = redacted(data)  # never a password on the screen
    for digest in unreadable:
        click.echo(f"warning: {data}/definitions: the stored definition {digest} cannot be read", err=True)
    errors = []
    for q in questionnaires.values():
        for problem in check_version(q, stored):
            errors.append(DefinitionError(q.source_file, _line_of_key(q.source_file, "version"), "version", problem))
    click.echo(f"versions checked against {len(stored)} stored definition(s) in {data}")
    return errors


def _line_of_key(file: str, key: str) -> int:
    """The line of a top-level key in a YAML file (1 when it cannot be found)."""
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    return next((n for n, line in enumerate(lines, 1) if line.startswith(f"{key}:")), 1)


def _definition(path: str):
    """A questionnaire YAML file, or a stored definition (``definitions/<hash>.json`` of a data folder)."""
    from .definitions import load_file
    from .versions import stored_definitions

    if path.endswith(".json"):
        try:
            snapshot = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{path}: cannot read: {exc}") from None
        models, _unreadable = stored_definitions([snapshot] if isinstance(snapshot, dict) else [])
        if not models:
            raise click.ClickException(f"{path}: not a stored questionnaire definition")
        return models[0]
    return load_file(path)


@main.command(help="List what changed between two versions of a questionnaire (YAML files, or a stored "
                   "definitions/<hash>.json) and whether NEW's version number is raised enough for it. "
                   "Exit status: 0 fine, 1 version not raised enough, 2 a file is invalid.")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def diff(old: str, new: str, as_json: bool) -> None:
    from .definitions import DefinitionErrors
    from .versions import check_version, compare, required_bump

    models = []
    for path in (old, new):
        try:
            models.append(_definition(path))
        except DefinitionErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            sys.exit(2)
    before, after = models
    changes = compare(before, after)
    bump = required_bump(changes)
    problems = [] if before.id != after.id else check_version(after, [before], place=f"by {old}")
    if as_json:
        click.echo(json.dumps({
            "old": {"id": before.id, "version": before.version, "hash": before.definition_hash},
            "new": {"id": after.id, "version": after.version, "hash": after.definition_hash},
            "needs": bump, "changes": [c.as_dict() for c in changes], "problems": problems,
        }, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{before.id} {before.version} -> {after.id} {after.version}")
        if before.definition_hash == after.definition_hash:
            click.echo("  no differences (the same definition; comments and layout do not count)")
        elif not changes:
            click.echo("  no differences in content (only in how the file is written)")
        for change in changes:
            click.echo(f"  {change.bump:<5}  {change}")
        for problem in problems:
            click.echo(f"{new}:{_line_of_key(new, 'version')}: version: {problem}", err=True)
        if bump and not problems:
            click.echo(f"needs a {bump} version change; {before.version} -> {after.version} is enough")
    if problems:
        sys.exit(1)


@main.command(help="Print the JSON Schema of a questionnaire file, for editors; the shipped copy is "
                    "questionnaires/questionnaire.schema.json, named in each file's first line.")
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="File to write ('-' for standard output).")
def schema(out: str) -> None:
    from .definitions import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{out}: {exc.strerror}")
    click.echo(f"wrote {out}", err=True)


@main.command(help="Score answers (JSON: item id -> code or value) and print the scores as JSON.")
@click.argument("questionnaire_id")
@click.argument("answers_file", type=click.Path(dir_okay=False, allow_dash=True))
def score(questionnaire_id: str, answers_file: str) -> None:
    from .answers import AnswerErrors, normalise_answers
    from .scoring import score as score_response

    questionnaires = _questionnaires()
    if questionnaire_id not in questionnaires:
        raise click.ClickException(
            f"unknown questionnaire '{questionnaire_id}' (known: {', '.join(sorted(questionnaires))})"
        )
    q = questionnaires[questionnaire_id]
    try:
        text = sys.stdin.read() if answers_file == "-" else Path(answers_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{answers_file}: {exc.strerror}")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{answers_file}:{exc.lineno}: not valid JSON: {exc.msg}")
    try:
        answers = normalise_answers(q, raw)
    except AnswerErrors as exc:
        for error in exc.errors:
            click.echo(f"Error: {answers_file}: {error}", err=True)
        sys.exit(1)
    scales = score_response(q, answers)
    result = {
        "questionnaire": q.id,
        "version": q.version,
        "definition_hash": q.definition_hash,
        "scales": [s.as_dict() for s in scales],
    }
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


@main.command(help="Preview a questionnaire file as the tablet shows it, with live scores and skip logic; the "
                    "page reloads when the file is saved. Nothing is stored in any data folder.")
@click.argument("yaml_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (this computer only by default).")
@click.option("--port", default=5050, show_default=True, type=int, help="Port (0: any free port).")
def preview(yaml_file: str, host: str, port: int) -> None:
    import logging

    from werkzeug.serving import make_server

    from .preview import create_preview_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per poll
    server = make_server(host, port, create_preview_app(yaml_file), threaded=True)
    click.echo(f"Previewing {yaml_file} on http://{host}:{server.server_port}/ (Ctrl+C stops it; nothing is stored)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: anyone who can reach {host} can use this preview; it has no login", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# ---------------------------------------------------------------- texts for translators


@main.group(help="Every text a person sees, to a spreadsheet (CSV: path, sv, en) and back into the YAML.")
def texts() -> None:
    pass


@texts.command("export", help="Write every text of a questionnaire file as CSV, one row per text.")
@click.argument("yaml_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="CSV file to write ('-' for standard output).")
def texts_export(yaml_file: str, out: str) -> None:
    from .definitions import DefinitionErrors, load_file
    from .texts import TextImportError, export_rows, write_csv

    try:
        rows = export_rows(yaml_file)
    except (TextImportError, DefinitionErrors) as exc:
        raise click.ClickException(str(exc))
    try:
        load_file(yaml_file)
    except DefinitionErrors as exc:  # a draft with texts still to translate is what translators get
        click.echo(f"note: {yaml_file} is not valid yet ({len(exc.errors)} problem(s)); the texts are exported "
                   "anyway, and the import checks the result", err=True)
    if out == "-":
        write_csv(rows, sys.stdout)
        return
    try:
        with open(out, "w", encoding="utf-8-sig", newline="") as fh:
            write_csv(rows, fh)
    except OSError as exc:
        raise click.ClickException(f"{out}: {exc.strerror}")
    empty = sum(1 for r in rows for text in r.texts.values() if not text)
    click.echo(f"wrote {len(rows)} text(s) to {out}" + (f"; {empty} cell(s) still to translate" if empty else ""),
               err=True)


@texts.command("import", help="Write the texts of a CSV back into the questionnaire file, keeping its comments, "
                              "order and layout. Nothing is written unless every row fits and the result is valid.")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("yaml_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and list the changes; write nothing.")
def texts_import(csv_file: str, yaml_file: str, dry_run: bool) -> None:
    from .definitions import DefinitionErrors
    from .texts import TextImportError, import_rows, read_csv

    try:
        result = import_rows(read_csv(csv_file), yaml_file, source=csv_file, dry_run=dry_run)
    except (TextImportError, DefinitionErrors) as exc:
        for line in str(exc).splitlines():
            click.echo(line, err=True)
        sys.exit(1)
    for path, lang, _text in result.changed:
        click.echo(f"  {path} ({lang})")
    verb = "would change" if dry_run else "changed"
    click.echo(f"{yaml_file}: {verb} {len(result.changed)} text(s)")


# ---------------------------------------------------------------- staff


@main.command("create-user", help="Create a staff account (role: nurse, physician or admin).")
@click.argument("username")
@click.option("--role", type=click.Choice(["nurse", "physician", "admin"]), required=True)
@click.option("--name", "display_name", default="", help="Name shown in the app.")
@click.password_option(help="Asked for (twice) when not given.")
def create_user(username: str, role: str, display_name: str, password: str) -> None:
    from .auth import hash_password
    if len(password) < 10:
        raise click.ClickException("the password must have at least 10 characters")
    store = _store()
    try:
        store.create_user(username, hash_password(password), role, "cli", display_name)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"created {role} {username}")


# ---------------------------------------------------------------- outcomes


@main.command(help="Response criteria (IMACS, ACR/EULAR 2016) and change from baseline for every later visit, as JSON.")
@click.argument("study_code")
def outcomes(study_code: str) -> None:
    from .catalog import Catalog
    from .outcomes import patient_outcomes

    store = _store()
    patient = store.find_patient(study_code)
    if patient is None:
        click.echo(f"Error: no patient with study code '{study_code}'", err=True)
        sys.exit(1)
    comparisons = patient_outcomes(Catalog(_questionnaires(), store), patient["id"])
    result = {"study_code": patient["study_code"], "visits": [c.as_dict() for c in comparisons]}
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


# ---------------------------------------------------------------- studies and exports


@main.command("validate-studies", help="Check study YAML files against the loaded questionnaires.")
@click.argument("paths", nargs=-1, type=click.Path())
def validate_studies(paths: tuple[str, ...]) -> None:
    from .definitions import DefinitionErrors
    from .studies import load_study_file

    questionnaires = _questionnaires()
    targets = [Path(p) for p in paths] or sorted(config.studies_dir().glob("*.y*ml"))
    failed = False
    for path in targets:
        try:
            study, warnings = load_study_file(path, questionnaires)
        except DefinitionErrors as exc:
            failed = True
            for error in exc.errors:
                click.echo(str(error), err=True)
            continue
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"{path}: ok: {study.id}, {len(study.visits)} visit(s)")
    if failed:
        sys.exit(1)


@main.command(help="Export every response and score: csv (wide), csv-long, fhir (an R4 transaction Bundle), "
                   "fhir-ndjson (bulk NDJSON, one file per resource type, in the folder --out); and the wide "
                   "CSV's codebook (codebook), Stata value labels (stata-labels, a .do file) or SPSS syntax "
                   "(spss-labels, a .sps file).")
@click.option("--format", "fmt", required=True,
              type=click.Choice(["csv", "csv-long", "fhir", "fhir-ndjson", "codebook", "stata-labels", "spss-labels"]))
@click.option("--out", "out", type=click.Path(allow_dash=True), required=True,
              help="File to write ('-' for standard output); a folder for fhir-ndjson.")
@click.option("--lang", type=click.Choice(["sv", "en"]), default="sv", show_default=True,
              help="Language of question texts in the FHIR export, and of the labels in stata-labels and spss-labels.")
@click.option("--since", default=None, metavar="DATE",
              help="FHIR only: just the responses changed since this date (YYYY-MM-DD, midnight UTC) or ISO date and "
                   "time; with their patients, visits and scores, and every questionnaire.")
def export(fmt: str, out: str, lang: str, since: str | None) -> None:
    from . import fhir
    from .catalog import Catalog
    from .export import export_chunks
    from .storage import StorageError

    if since is not None:
        if fmt not in fhir.FORMATS:
            raise click.UsageError("--since is for the FHIR formats (fhir, fhir-ndjson)")
        try:
            since = fhir.parse_since(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since")
    if fmt == "fhir-ndjson" and (out == "-" or Path(out).is_file()):
        raise click.BadParameter("fhir-ndjson writes one file per resource type: give a folder", param_hint="--out")
    store = _store()
    cat = Catalog(_questionnaires(), store)
    target = None
    try:
        # Written as it is read, response by response; the bar (on a terminal only) counts responses.
        with _progress(store.response_count(), f"export {fmt}") as bar:
            if fmt == "fhir-ndjson":
                counts = fhir.write_ndjson(cat, Path(out), lang=lang, progress=bar.update, since=since)
            else:
                chunks = (fhir.bundle_chunks(cat, lang, progress=bar.update, since=since) if fmt == "fhir"
                          else export_chunks(cat, fmt, lang=lang, progress=bar.update))
                if out == "-":
                    for chunk in chunks:
                        sys.stdout.write(chunk)
                    sys.stdout.flush()
                else:
                    target = Path(out)
                    with target.open("w", encoding="utf-8", newline="") as fh:
                        for chunk in chunks:
                            fh.write(chunk)
        store.audit("cli", "export", "data", fmt, format=fmt, **({"since": since} if since else {}))
    except OSError as exc:
        if target is not None:
            target.unlink(missing_ok=True)  # never leave half an export that looks whole
        raise click.ClickException(f"{out}: {exc.strerror}")
    except StorageError as exc:
        if target is not None:
            target.unlink(missing_ok=True)
        raise click.ClickException(str(exc))
    finally:
        store.close()
    if fmt == "fhir-ndjson":
        click.echo(f"wrote {out}: " + ", ".join(f"{kind}.ndjson ({n})" for kind, n in counts.items()), err=True)
    elif target is not None:
        click.echo(f"wrote {out}", err=True)


@main.command(help="The study report (where the study stands, cohort table, responders, tolerability, plots) "
                    "as HTML or PDF, or its analysis dataset as CSV; the format follows --out's extension.")
@click.argument("study_id")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="report.html, report.pdf or analysis.csv")
@click.option("--lang", type=click.Choice(["sv", "en"]), default="sv", show_default=True)
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Data cut (YYYY-MM-DD): forms completed by the end of that day; default today.")
@click.option("--link-base", default="", help="Address of pro-app (https://...) so the numbers link to the staff pages.")
def report(study_id: str, out: str, lang: str, as_of, link_base: str) -> None:
    from flask_babel import force_locale

    from . import create_app
    from .report import build_report
    from .study_pages import render_report

    fmt = Path(out).suffix.lower().lstrip(".")
    if fmt not in ("html", "pdf", "csv"):
        raise click.ClickException(f"{out}: the file name must end in .html, .pdf or .csv")
    app = create_app()
    known = app.extensions["pro_app.studies"]
    if study_id not in known:
        raise click.ClickException(f"unknown study '{study_id}' (known: {', '.join(sorted(known)) or 'none'})")
    base = link_base.rstrip("/")

    def visit_link(patient_id, visit_id):
        return f"{base}/staff/patients/{patient_id}/visits/{visit_id}/summary" if base and visit_id else None

    def patient_link(patient_id):
        return f"{base}/staff/patients/{patient_id}" if base else None

    with app.test_request_context(), force_locale(lang):
        built = build_report(app.extensions["pro_app"], known[study_id], lang, as_of.date() if as_of else None)
        body = render_report(built, fmt, visit_link, patient_link)
    app.extensions["pro_app"].store.audit("cli", "export", "study-report", study_id, format=fmt,
                                          as_of=built.as_of.isoformat())
    try:
        Path(out).write_bytes(body)
    except OSError as exc:
        raise click.ClickException(f"{out}: {exc.strerror}")
    click.echo(f"wrote {out}: {built.patients} patient(s), data cut {built.as_of.isoformat()}", err=True)


# ---------------------------------------------------------------- the database


@main.group(help="The store's database: PostgreSQL schema upgrades, and moving a clinic's data between stores.")
def db() -> None:
    pass


@db.command("upgrade", help="Bring the PostgreSQL schema up to this pro-app's version (run before starting it; "
                            "safe to run again, and from several machines at once).")
@click.option("--url", envvar="PRO_APP_DATABASE_URL", required=True, metavar="postgresql://...",
              help="The database (default: PRO_APP_DATABASE_URL).")
def db_upgrade(url: str) -> None:
    from .storage import StorageError, is_database_url
    from .storage.postgres import SCHEMA_VERSION, redacted, upgrade

    if not is_database_url(url):
        raise click.ClickException(f"not a PostgreSQL URL: {url} (the TinyDB data folder upgrades itself on start)")
    try:
        applied = upgrade(url)
    except StorageError as exc:
        raise click.ClickException(str(exc))
    done = f"applied migration(s) {', '.join(map(str, applied))}" if applied else "nothing to do"
    click.echo(f"{redacted(url)}: schema version {SCHEMA_VERSION} ({done})")


@db.command("copy", help="Copy a clinic's data (staff, definitions, patients, visits, responses, the audit trail) "
                         "from one store into an empty one, then verify counts and a checksum of every record. "
                         "Each side is a TinyDB data folder or a postgresql:// URL.")
@click.option("--from", "source", required=True, metavar="DIR|URL", help="Where the data is now.")
@click.option("--to", "target", required=True, metavar="DIR|URL", help="An empty data folder or database.")
def db_copy(source: str, target: str) -> None:
    from .storage import StorageError, is_database_url, open_store
    from .storage.copy import CopyError, copy_store
    from .storage.postgres import redacted

    if not is_database_url(source) and not (Path(source) / "layout").exists() and not (Path(source) / "index.json").exists():
        raise click.ClickException(f"{source}: not a pro-app data folder")
    if not is_database_url(target) and Path(target).exists() and any(Path(target).iterdir()):
        raise click.ClickException(f"{target}: the folder is not empty; copy into a new one")
    try:
        source_store, target_store = open_store(source), open_store(target)
        try:
            with _progress(source_store.response_count(), "copy") as bar:
                report = copy_store(source_store, target_store, progress=bar.update)
        finally:
            source_store.close()
            target_store.close()
    except (CopyError, StorageError, ValueError) as exc:
        raise click.ClickException(str(exc))
    click.echo(f"copied and verified {redacted(source)} -> {redacted(target)}: {report.line()}")


# ---------------------------------------------------------------- running


@main.command(help="Seed demo data (a nurse and a patient with a pending visit) and start the app.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only seed the demo data.")
@click.option("--history", default=0, show_default=True, type=click.IntRange(0, 4),
              help="Study visits the demo patient has already done (filled in, improving): summaries to look at.")
def demo(host: str, port: int, no_serve: bool, history: int) -> None:
    from . import create_app
    from .demo import seed_demo

    os.environ.setdefault("PRO_APP_DATA_DIR", str(config.default_data_dir("demo")))
    # The demo is served over plain HTTP, where a browser would drop a Secure cookie off localhost.
    os.environ.setdefault("PRO_APP_SECURE_COOKIES", "0")
    app = create_app()
    lines = seed_demo(app, history=history)
    for line in lines:
        click.echo(line)
    if not no_serve:
        click.echo(f"Open http://{host}:{port}/ on the tablet (data in {app.config['DATA_DIR']}).")
        _serve(app, host, port, workers=1)


@main.command(help="Start the app with a production server (gunicorn, several worker processes).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=3, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    from . import create_app

    from .storage import StorageError

    try:
        # Refuse to start with an invalid questionnaire or an unusable store before forking.
        create_app().extensions["pro_app"].store.close()
    except StorageError as exc:
        raise click.ClickException(str(exc))
    _serve(None, host, port, workers)


def _serve(app, host: str, port: int, workers: int) -> None:
    from .server import serve

    if app is not None:
        app.extensions["pro_app"].store.close()  # connections are per process: each worker opens its own
    serve(app, host, port, workers)


# ---------------------------------------------------------------- translations


@main.group(help="Maintain the UI translations in translations/ (Swedish catalog).")
def translate() -> None:
    pass


def _pybabel(*args: str) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=config.PROJECT_ROOT)


@translate.command(help="Extract UI strings and merge them into translations/sv.")
def update() -> None:
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", "translations/messages.pot", ".")
    _pybabel("update", "-i", "translations/messages.pot", "-d", "translations", "--width", "100")


@translate.command(help="Compile the catalogs (.po -> .mo).")
def compile() -> None:
    _pybabel("compile", "-d", "translations")


if __name__ == "__main__":  # pragma: no cover
    main()
