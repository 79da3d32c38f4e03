"""``openect config show``: the settings in force, where each came from, secrets masked."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from openect.cli._output import CliError, emit_json, stdout
from openect.errors import ConfigurationError

app = typer.Typer(help="OpenECT's settings (environment variables).", no_args_is_help=True)


def _cell(value: Any) -> str:
    """A setting's value as shown in the table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


@app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> int:
    """Show the effective settings: each variable, its value and where it came from
    (environment, file, default). Secrets are masked, never shown."""
    from openect.settings import get_settings, rows

    try:
        settings = get_settings()
    except ConfigurationError as error:
        raise CliError(str(error)) from None
    shown = list(rows(settings))
    if as_json:
        emit_json({row["name"]: {"value": row["value"], "source": row["source"]} for row in shown})
    else:
        out = Table(title="OpenECT settings", title_justify="left")
        for column in ("variable", "value", "source"):
            out.add_column(column, overflow="fold")  # long paths wrap, never cut
        for row in shown:
            out.add_row(row["name"], _cell(row["value"]), row["source"])
        stdout.print(out)
    return 0
