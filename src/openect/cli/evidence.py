"""``openect evidence``: the bundled published ECT results and meta-analysis."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import pandas as pd
import typer

from openect.cli._output import CliError, emit_json, stderr, stdout, table
from openect.evidence.meta import METHODS, TRANSFORMS, MetaAnalysis, Method, Transform
from openect.evidence.studies import list_tables, load_table, table_info, table_names
from openect.formatting import estimate, number, percent, percent_interval

app = typer.Typer(
    help="Published ECT evidence: list the bundled studies, meta-analyse proportions or effects.",
    no_args_is_help=True,
)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> int:
    """The bundled tables of published ECT results: rows, title and sources."""
    tables = list_tables()
    if as_json:
        emit_json({"tables": [asdict(t) for t in tables]})
        return 0
    rows = [
        [
            t.name,
            t.rows,
            t.title,
            t.sources[0] + (f" (+{len(t.sources) - 1} more)" if len(t.sources) > 1 else ""),
        ]
        for t in tables
    ]
    stdout.print(table("Bundled evidence tables", ["name", "rows", "what", "sources"], rows))
    stdout.print("Show one with: openect evidence show NAME")
    return 0


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN as None)."""
    return cast(list[dict[str, Any]], json.loads(frame.to_json(orient="records")))


@app.command("show")
def show_command(
    name: Annotated[
        str, typer.Argument(help="Table name (see: openect evidence list).", metavar="NAME")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> int:
    """One bundled table with its sources and caveats."""
    try:
        info = table_info(name)
    except ValueError as error:
        raise CliError(str(error)) from error
    frame = load_table(name)
    if as_json:
        emit_json({**asdict(info), "records": _records(frame)})
        return 0
    stdout.print(f"[bold]{info.name}[/]: {info.title}")
    for line in info.description.splitlines():
        stdout.print(f"  {line}", markup=False)
    cells = frame.astype(object).where(frame.notna(), None)
    stdout.print(table(f"{info.name} ({info.rows} rows)", list(frame.columns), cells.values))
    return 0


# ---- meta ---------------------------------------------------------------------------


def _read_source(source: str) -> pd.DataFrame:
    path = Path(source)
    if path.is_file():
        try:
            return pd.read_csv(path, comment="#")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            message = " ".join(str(error).split())
            raise CliError(f"{source}: cannot read as CSV ({message})") from None
    if source in table_names():
        return load_table(source)
    if path.exists():
        raise CliError(f"{source}: not a file")
    raise CliError(
        f"{source}: no such file or bundled table; bundled tables: {', '.join(table_names())}"
    )


def _check_column(frame: pd.DataFrame, option: str, column: str, source: str) -> str:
    if column not in frame.columns:
        available = ", ".join(str(c) for c in frame.columns)
        raise CliError(f"{option}={column!r}: no such column in {source}; available: {available}")
    return column


def _where(frame: pd.DataFrame, conditions: list[str], source: str) -> pd.DataFrame:
    for condition in conditions:
        column, sep, value = condition.partition("=")
        if not sep or not column:
            raise CliError(f"--where={condition!r}: expected COLUMN=VALUE")
        _check_column(frame, "--where", column, source)
        frame = frame[frame[column].astype(str) == value]
    return frame


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:20])
    return shown + (f" (and {len(rows) - 20} more)" if len(rows) > 20 else "")


def _numeric(
    frame: pd.DataFrame, options: dict[str, str], drop_missing: bool
) -> tuple[dict[str, np.ndarray[Any, np.dtype[np.float64]]], list[int], list[int]]:
    """Numeric columns for ``options`` (option -> column). ``frame`` is indexed by data row
    number (1 = first row after the header; comment lines not counted). Returns the
    values of the rows kept, their row numbers and the row numbers dropped."""
    row_no = [int(r) for r in frame.index]
    missing = np.zeros(len(frame), dtype=bool)
    values: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for option, column in options.items():
        raw = frame[column].to_numpy(dtype=object)
        number = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        absent = pd.isna(raw)
        bad = np.isnan(number) & ~absent
        if bad.any():
            first = int(np.argmax(bad))
            raise CliError(
                f"{option}={column!r}: not a number ({raw[first]!r}) in data row {row_no[first]}"
            )
        if absent.any() and not drop_missing:
            rows = [r for r, a in zip(row_no, absent, strict=True) if a]
            raise CliError(
                f"{option}={column!r}: missing value(s) in data row(s) {_rows_text(rows)}; "
                "fill them, select rows with --where, or skip them with --drop-missing"
            )
        values[option] = number
        missing |= absent
    kept = [r for r, m in zip(row_no, missing, strict=True) if not m]
    dropped = [r for r, m in zip(row_no, missing, strict=True) if m]
    return {option: v[~missing] for option, v in values.items()}, kept, dropped


def _labels(frame: pd.DataFrame, label: str | None, source: str) -> list[str]:
    if label is not None:
        _check_column(frame, "--label", label, source)
        return [str(v) for v in frame[label]]
    if "study" in frame.columns:
        if "year" in frame.columns:
            return [f"{s} {y}" for s, y in zip(frame["study"], frame["year"], strict=True)]
        return [str(v) for v in frame["study"]]
    return [f"row {i + 1}" for i in range(len(frame))]


def _check_counts(
    events: np.ndarray[Any, np.dtype[np.float64]],
    totals: np.ndarray[Any, np.dtype[np.float64]],
    names: tuple[str, str],
    rows: list[int],
) -> None:
    event_col, total_col = names
    for x, n, row in zip(events, totals, rows, strict=True):
        if n <= 0:
            raise CliError(f"--total={total_col!r}: {n:g} in data row {row}; allowed > 0")
        if x < 0:
            raise CliError(f"--events={event_col!r}: {x:g} in data row {row}; allowed >= 0")
        if x > n:
            raise CliError(
                f"--events={event_col!r}: {x:g} in data row {row} is more than "
                f"--total={total_col!r} ({n:g}); allowed 0 to the total"
            )


@app.command("meta")
def meta_command(
    source: Annotated[
        str,
        typer.Argument(
            help="CSV file (# comment lines allowed) or a bundled table name.",
            metavar="FILE|TABLE",
            show_default=False,
        ),
    ],
    events: Annotated[
        str | None, typer.Option("--events", help="Column of event counts (e.g. lesions with CR).")
    ] = None,
    total: Annotated[
        str | None, typer.Option("--total", help="Column of totals (e.g. lesions treated).")
    ] = None,
    yi: Annotated[str | None, typer.Option("--yi", help="Column of generic effects.")] = None,
    vi: Annotated[
        str | None, typer.Option("--vi", help="Column of sampling variances of --yi.")
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Column of study labels (default: study year).")
    ] = None,
    transform: Annotated[
        str | None,
        typer.Option("--transform", help="Proportions: logit (default), ft or raw."),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="FE, DL or REML (random effects, default).")
    ] = "REML",
    hartung_knapp: Annotated[
        bool, typer.Option("--hartung-knapp", help="Hartung-Knapp t-based intervals.")
    ] = False,
    level: Annotated[
        float, typer.Option("--level", help="Confidence level, 0 < level < 1.")
    ] = 0.95,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", help="Keep rows with COLUMN=VALUE (repeatable)."),
    ] = None,
    drop_missing: Annotated[
        bool, typer.Option("--drop-missing", help="Skip rows with a missing value.")
    ] = False,
    png: Annotated[Path | None, typer.Option("--png", help="Forest plot (PNG).")] = None,
    funnel_png: Annotated[
        Path | None, typer.Option("--funnel-png", help="Funnel plot (PNG).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
) -> int:
    """Pool proportions (--events/--total) or generic effects (--yi/--vi) as R metafor.

    Proportions are back-transformed (fractions 0-1 in JSON, % in the table).
    """
    counts = events is not None or total is not None
    effects = yi is not None or vi is not None
    if counts == effects:
        raise CliError(
            "give either --events and --total (proportions) or --yi and --vi (effects), not both"
        )
    if counts and (events is None or total is None):
        raise CliError("--events and --total go together; give both")
    if effects and (yi is None or vi is None):
        raise CliError("--yi and --vi go together; give both")
    name = method.upper()
    if name not in METHODS:
        raise CliError(f"--method={method!r}: not allowed; allowed {', '.join(METHODS)}")
    if transform is not None:
        if effects:
            raise CliError(f"--transform={transform!r}: only with --events/--total")
        if transform.lower() not in TRANSFORMS:
            raise CliError(
                f"--transform={transform!r}: not allowed; allowed {', '.join(TRANSFORMS)}"
            )
    if not 0 < level < 1:
        raise CliError(f"--level={level:g}: out of range; allowed 0 < level < 1 (0.95 = 95 %)")

    frame = _read_source(source)
    frame.index = pd.RangeIndex(1, len(frame) + 1)  # data row numbers, as in messages
    frame = _where(frame, where or [], source)
    columns = {"--events": events, "--total": total} if counts else {"--yi": yi, "--vi": vi}
    chosen = {option: cast(str, column) for option, column in columns.items()}
    for option, column in chosen.items():
        _check_column(frame, option, column, source)
    labels_by_row = dict(zip(frame.index, _labels(frame, label, source), strict=True))
    values, rows, dropped = _numeric(frame, chosen, drop_missing)
    if not rows:
        raise CliError(f"{source}: no rows left to pool (after --where / --drop-missing)")
    labels = [labels_by_row[r] for r in rows]

    model = MetaAnalysis(
        method=cast(Method, name),
        transform=cast(Transform, transform.lower()) if transform is not None else None,
        hartung_knapp=hartung_knapp,
        level=level,
    )
    try:
        if counts:
            _check_counts(values["--events"], values["--total"], (chosen["--events"],
                          chosen["--total"]), rows)  # fmt: skip
            model.fit_proportions(values["--events"], values["--total"], labels)
        else:
            for v, row in zip(values["--vi"], rows, strict=True):
                if v <= 0:
                    raise CliError(f"--vi={chosen['--vi']!r}: {v:g} in data row {row}; allowed > 0")
            model.fit(values["--yi"], values["--vi"], labels)
    except (ValueError, RuntimeError) as error:
        raise CliError(str(error)) from error

    from openect.evidence.plots import forest_figure, funnel_figure, save_png

    if png is not None:
        save_png(forest_figure(model, title=source), png)
    if funnel_png is not None:
        save_png(funnel_figure(model, title=source), funnel_png)
    if as_json:
        emit_json(
            {
                "source": source,
                "columns": {option.lstrip("-"): column for option, column in chosen.items()},
                "dropped_rows": dropped,
                **model.to_dict(),
            }
        )
        return 0
    if dropped:
        stderr.print(f"Skipped data row(s) with missing values: {_rows_text(dropped)}")
    print_meta(model, source)
    for path in (png, funnel_png):
        if path is not None:
            stdout.print(f"Wrote {path}")
    return 0


def print_meta(model: MetaAnalysis, source: str) -> None:
    """Study table and pooled result of a fitted meta-analysis, for people."""
    proportion = model.transform_ is not None

    def value(x: float) -> str:
        return percent(x) if proportion else estimate(x, ".4g")

    def interval(low: float, high: float) -> str:
        if proportion:
            return percent_interval(low, high)
        return f"{estimate(low, '.4g')} to {estimate(high, '.4g')}"

    studies = model.studies_
    pct = f"{number(100 * model.level, '%')} CI"
    rows: list[list[object]] = []
    for i, study_label in enumerate(model.labels_):
        first = (
            f"{number(studies['events'].iloc[i])} / {number(studies['total'].iloc[i])}"
            if proportion
            else f"{estimate(studies['yi'].iloc[i], '.4g')} ({estimate(studies['vi'].iloc[i])})"
        )
        rows.append(
            [
                study_label,
                first,
                value(float(studies["estimate"].iloc[i])),
                interval(float(studies["ci_low"].iloc[i]), float(studies["ci_high"].iloc[i])),
                number(float(studies["weight_pct"].iloc[i]), "%"),
            ]
        )
    rows.append(
        [
            f"[bold]Pooled ({model.method})[/]",
            "",
            f"[bold]{value(model.estimate_)}[/]",
            interval(model.ci_low_, model.ci_high_),
            number(100, "%"),
        ]
    )
    scale = {
        None: "effects",
        "logit": "logit",
        "ft": "Freeman-Tukey",
        "raw": "raw proportions",
    }[model.transform_]
    test = ", Hartung-Knapp" if model.hartung_knapp else ""
    head = "events / total" if proportion else "yi (vi)"
    title = f"Meta-analysis of {source} ({model.method}, {scale}{test}; k = {model.k_})"
    stdout.print(table(title, ["study", head, "estimate", pct, "weight"], rows))
    stdout.print(
        f"Pooled: {value(model.estimate_)} ({pct} {interval(model.ci_low_, model.ci_high_)}); "
        f"prediction interval {interval(model.pi_low_, model.pi_high_)}"
    )
    stdout.print(
        f"Heterogeneity: tau2 = {estimate(model.tau2_, '.4g')}, "
        f"I2 = {number(model.i2_, '%')}, H2 = {estimate(model.h2_, '.2f')}, "
        f"Q = {estimate(model.q_, '.2f')} (df = {model.q_df_}, "
        f"p = {estimate(model.q_pvalue_, '.3g')})"
    )
