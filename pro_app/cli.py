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


def _questionnaires() -> dict:
    """Every questionnaire, or a clear error naming the bad file and line."""
    from .definitions import DefinitionErrors, load_directory

    try:
        return load_directory(config.questionnaire_dir())
    except DefinitionErrors as exc:
        raise click.ClickException(str(exc))


# ---------------------------------------------------------------- questionnaires


@main.command(help="Check questionnaire YAML files; every error as file:line: where: what.")
@click.argument("paths", nargs=-1, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    targets = list(paths) or [str(config.questionnaire_dir())]
    missing = [p for p in targets if not Path(p).exists()]
    for p in missing:
        click.echo(f"{p}:1: file: no such file or folder", err=True)
    questionnaires, errors = validate_paths([p for p in targets if p not in missing])
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


@main.command(help="Print the JSON Schema of a questionnaire file (for editors).")
def schema() -> None:
    from .definitions import json_schema

    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


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


# ---------------------------------------------------------------- staff


@main.command("create-user", help="Create a staff account (role: nurse, physician or admin).")
@click.argument("username")
@click.option("--role", type=click.Choice(["nurse", "physician", "admin"]), required=True)
@click.option("--name", "display_name", default="", help="Name shown in the app.")
@click.password_option(help="Asked for (twice) when not given.")
def create_user(username: str, role: str, display_name: str, password: str) -> None:
    from .auth import hash_password
    from .storage import Store

    if len(password) < 10:
        raise click.ClickException("the password must have at least 10 characters")
    store = Store(config.data_dir())
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
    from .storage import Store

    store = Store(config.data_dir())
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


@main.command(help="Export every response and score: csv (wide), csv-long, or fhir (an R4 Bundle).")
@click.option("--format", "fmt", type=click.Choice(["csv", "csv-long", "fhir"]), required=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True), required=True,
              help="File to write ('-' for standard output).")
@click.option("--lang", type=click.Choice(["sv", "en"]), default="sv", show_default=True,
              help="Language of question texts in the FHIR export.")
def export(fmt: str, out: str, lang: str) -> None:
    from .catalog import Catalog
    from .export import export_text
    from .storage import Store

    store = Store(config.data_dir())
    text = export_text(Catalog(_questionnaires(), store), fmt, lang=lang)
    store.audit("cli", "export", "data", fmt, format=fmt)
    if out == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"{out}: {exc.strerror}")
    click.echo(f"wrote {out}", err=True)


# ---------------------------------------------------------------- running


@main.command(help="Seed demo data (a nurse and a patient with a pending visit) and start the app.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only seed the demo data.")
def demo(host: str, port: int, no_serve: bool) -> None:
    from . import create_app
    from .demo import seed_demo

    os.environ.setdefault("PRO_APP_DATA_DIR", str(config.default_data_dir("demo")))
    # The demo is served over plain HTTP, where a browser would drop a Secure cookie off localhost.
    os.environ.setdefault("PRO_APP_SECURE_COOKIES", "0")
    app = create_app()
    lines = seed_demo(app)
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

    create_app()  # refuse to start with an invalid questionnaire before forking
    _serve(None, host, port, workers)


def _serve(app, host: str, port: int, workers: int) -> None:
    from .server import serve

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
