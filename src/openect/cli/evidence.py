"""``openect evidence``: the bundled published ECT results and meta-analysis."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Published ECT evidence: list the bundled studies, meta-analyse proportions or effects.",
    no_args_is_help=True,
)
