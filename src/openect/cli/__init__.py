"""The ``openect`` command line (typer + rich).

Every command prints a human table by default and machine-readable JSON with
``--json``. Bad input gives one line on stderr naming the field, the value and the
allowed range, and exit code 2; ``--debug`` shows the traceback of unexpected errors.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import click
import typer
from typer.exceptions import TyperException

from openect import __version__
from openect.cli import analyse as analyse_commands
from openect.cli import config as config_commands
from openect.cli import data as data_commands
from openect.cli import demo as demo_command
from openect.cli import evidence as evidence_commands
from openect.cli import field as field_commands
from openect.cli import plan as plan_commands
from openect.cli import plan_lesion as _plan_lesion  # noqa: F401  (registers `plan lesion`)
from openect.cli import registry as registry_commands
from openect.cli import report as report_commands
from openect.cli import response as response_commands
from openect.cli import serve as serve_commands
from openect.errors import OpenECTError, exit_code

app = typer.Typer(
    name="openect",
    help="OpenECT: electrochemotherapy of cutaneous metastases - plan, simulate, record, analyse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_commands.app, name="data")
app.add_typer(plan_commands.app, name="plan")
app.add_typer(field_commands.app, name="field")
app.add_typer(evidence_commands.app, name="evidence")
app.add_typer(response_commands.app, name="response")
app.add_typer(analyse_commands.app, name="analyse")
app.add_typer(report_commands.app, name="report")
app.add_typer(registry_commands.app, name="registry")
app.add_typer(serve_commands.web_app, name="web")
app.add_typer(config_commands.app, name="config")
app.command("serve")(serve_commands.serve)
app.command("demo")(demo_command.demo)


def _show_version(value: bool) -> None:
    if value:
        print(f"openect {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")
    ] = False,
) -> None:
    """OpenECT command line."""


#: Options that take a pair of numbers, written either ``--opt A B`` or ``--opt A,B``.
PAIR_OPTIONS = frozenset({"--lesion-mm"})


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _join_pairs(args: list[str]) -> list[str]:
    """Rewrite ``--lesion-mm 12 9`` as ``--lesion-mm 12,9`` (repeatable options)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        pair = args[i + 1 : i + 3]
        if token in PAIR_OPTIONS and len(pair) == 2 and all(map(_is_number, pair)):
            out += [token, ",".join(pair)]
            i += 3
        else:
            out.append(token)
            i += 1
    return out


def _default_analysis(args: list[str]) -> list[str]:
    """``openect analyse DIR`` is ``openect analyse summary DIR``."""
    commands = [i for i, token in enumerate(args) if not token.startswith("-")]
    if commands and args[commands[0]] == "analyse":
        i = commands[0]
        rest = args[i + 1 :]
        if rest and rest[0] not in analyse_commands.SUBCOMMANDS and rest[0] not in ("-h", "--help"):
            return [*args[: i + 1], "summary", *rest]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = _default_analysis(_join_pairs(list(sys.argv[1:] if argv is None else argv)))
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="openect", standalone_mode=False)
    except OpenECTError as error:
        print(f"openect: error: {error}", file=sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt:
        print("openect: interrupted", file=sys.stderr)
        return 130
    except (click.ClickException, TyperException) as error:
        # The parser's own errors (typer ships its own copy of click's exceptions).
        message = error.format_message()
        if not message.strip() or message.startswith("Usage:"):
            # A command group without its command: its help (typer may have shown it).
            print(message.rstrip(), file=sys.stderr)
            return 2
        print(f"openect: error: {' '.join(message.split())}", file=sys.stderr)
        return int(error.exit_code)
    except Exception as error:
        if debug:
            traceback.print_exc()
        else:
            print(
                f"openect: internal error: {type(error).__name__}: {error} "
                "(run with --debug for the traceback)",
                file=sys.stderr,
            )
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
