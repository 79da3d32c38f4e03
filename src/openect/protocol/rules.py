"""Rule sets: every clinical number of the session planner as data with provenance.

A rule set is a TOML file (``rulesets/*.toml`` shipped with the package, or a centre's
own file) with a ``[rule_set]`` header and one ``[rules."ID"]`` table per rule::

    [rule_set]
    id = "my-centre"
    base = "sop-2018"           # inherit every rule not listed here
    title = "Local ECT protocol"

    [rules."dose.iv_bleomycin_per_m2"]
    value = 15000
    unit = "IU/m2"
    status = "verified"         # verified | to_verify
    source = "Local protocol v3, 2024"

A file with a ``base`` may only override rules its base defines, with a value of the
same shape, and must give each overridden rule its own source and status. A file
without a base must define every rule of ``esope-2006``.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openect.data.field_errors import field_errors
from openect.errors import RuleError

#: Rule set used when none is named.
DEFAULT_RULE_SET = "sop-2018"
#: The root rule set: a file without a base must define all of its rules.
ROOT_RULE_SET = "esope-2006"


class RuleStatus(StrEnum):
    """Whether a rule's value was read in its cited source."""

    VERIFIED = "verified"
    TO_VERIFY = "to_verify"


class Rule(BaseModel):
    """One rule: an id, a value (number, text, table or rows), a unit, source and status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    value: Any
    unit: str | None = None
    status: RuleStatus
    source: str = Field(min_length=1)
    note: str | None = None
    #: What the number rests on, where a study gave it: population, size, tumour type.
    evidence: str | None = None
    #: Id of the rule set whose file defined this rule.
    origin: str


class _RuleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    value: Any
    unit: str | None = None
    status: RuleStatus
    source: str = Field(min_length=1)
    note: str | None = None
    evidence: str | None = None


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    base: str | None = None
    title: str
    version: str = "1.0"
    source: str | None = None
    note: str | None = None


class RuleSet(BaseModel):
    """A complete, resolved rule set (its own rules over those of its bases)."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    version: str
    source: str | None
    note: str | None
    #: This rule set, then its base, then the base's base: e.g. ``["sop-2018", "esope-2006"]``.
    chain: list[str]
    rules: dict[str, Rule]

    def rule(self, rule_id: str) -> Rule:
        """The rule ``rule_id``; :class:`RuleError` if this rule set lacks it."""
        try:
            return self.rules[rule_id]
        except KeyError:
            raise RuleError(f"rule set {self.id!r} has no rule {rule_id!r}") from None

    def number(self, rule_id: str, key: str | None = None) -> float:
        """A numeric rule value, or the number under ``key`` of a table rule."""
        value = self.rule(rule_id).value
        if key is not None:
            value = self.table(rule_id).get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            where = f"{rule_id}.{key}" if key else rule_id
            raise RuleError(f"rule {where} of rule set {self.id!r} is not a number: {value!r}")
        return float(value)

    def number_or_option(
        self, option: str, given: float | None, rule_id: str, key: str | None = None
    ) -> tuple[float, str]:
        """The value a user chose for ``option``, else the rule's number; with its
        provenance: ``("option:<option>")`` or the rule id, as plans cite them.

        >>> rules.number_or_option("margin_mm", None, "coverage.margin")  # doctest: +SKIP
        (3.0, 'coverage.margin')
        """
        if given is not None:
            return float(given), f"option:{option}"
        return self.number(rule_id, key), rule_id

    def text(self, rule_id: str, allowed: tuple[str, ...]) -> str:
        """A text rule value that must be one of ``allowed``."""
        value = self.rule(rule_id).value
        if value not in allowed:
            raise RuleError(
                f"rule {rule_id} of rule set {self.id!r} is {value!r}; "
                f"allowed: {', '.join(allowed)}"
            )
        return str(value)

    def table(self, rule_id: str) -> dict[str, Any]:
        """A table rule value (``{key: value}``)."""
        value = self.rule(rule_id).value
        if not isinstance(value, dict):
            raise RuleError(f"rule {rule_id} of rule set {self.id!r} is not a table: {value!r}")
        return value

    def rows(self, rule_id: str) -> list[dict[str, Any]]:
        """A list-of-tables rule value (a step table)."""
        value = self.rule(rule_id).value
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise RuleError(f"rule {rule_id} of rule set {self.id!r} is not a list of rows")
        return value

    def words(self, rule_id: str) -> list[str]:
        """A list-of-text rule value."""
        value = self.rule(rule_id).value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise RuleError(f"rule {rule_id} of rule set {self.id!r} is not a list of words")
        return value

    def describe(self, rule_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """JSON-serialisable rules (all, or those named), in id order."""
        ids = sorted(self.rules) if rule_ids is None else sorted(set(rule_ids))
        return [self.rule(rule_id).model_dump(mode="json") for rule_id in ids]


def _cell(value: Any) -> str:
    """A rule's value as one Markdown table cell."""
    if isinstance(value, dict):
        text = ", ".join(f"{k} = {_cell(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = "; ".join(_cell(v) for v in value)
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(rule_set: RuleSet) -> str:
    """Every rule of ``rule_set`` as a Markdown table: id, value and unit, status,
    source, evidence, and the rule set whose file defines it (``docs/rules.md``)."""
    lines = [
        f"### {rule_set.id}: {rule_set.title}",
        "",
        f"Version {rule_set.version}; chain: {' <- '.join(rule_set.chain)}."
        + (f" Source: {_cell(rule_set.source)}." if rule_set.source else ""),
        "",
        "| rule | value | status | source | evidence | defined in |",
        "|---|---|---|---|---|---|",
    ]
    for rule_id in sorted(rule_set.rules):
        rule = rule_set.rules[rule_id]
        value = _cell(rule.value) + (f" {rule.unit}" if rule.unit else "")
        lines.append(
            f"| `{rule_id}` | {value} | {rule.status.value} | {_cell(rule.source)} "
            f"| {_cell(rule.evidence) if rule.evidence else ''} | {rule.origin} |"
        )
    return "\n".join(lines) + "\n"


def shipped_rule_sets() -> list[str]:
    """Ids of the rule sets shipped with OpenECT."""
    folder = resources.files("openect.protocol") / "rulesets"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_rule_set(name_or_path: str | Path = DEFAULT_RULE_SET) -> RuleSet:
    """Load a shipped rule set by id, or a rule-set file by path, resolving its bases.

    A ``base`` that is a path is read relative to the folder of the file naming it.
    """
    return _load(str(name_or_path), (), Path.cwd())


@cache
def _shipped(name: str) -> RuleSet:
    text = (resources.files("openect.protocol") / "rulesets" / f"{name}.toml").read_text("utf-8")
    return _resolve(text, f"{name}.toml", (), None)


def _load(name_or_path: str, seen: tuple[str, ...], folder: Path) -> RuleSet:
    if name_or_path in shipped_rule_sets():
        if name_or_path in seen:
            raise RuleError(f"rule set {name_or_path!r} is its own base ({' -> '.join(seen)})")
        return _shipped(name_or_path)
    path = folder / name_or_path
    if not path.is_file():
        raise RuleError(
            f"rules={name_or_path!r}: neither a shipped rule set "
            f"({', '.join(shipped_rule_sets())}) nor a rule-set file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleError(f"rules={name_or_path!r}: cannot read: {error}") from error
    return _resolve(text, str(path), seen, path.parent)


def _resolve(text: str, where: str, seen: tuple[str, ...], folder: Path | None) -> RuleSet:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"{where}: not valid TOML: {error}") from error
    unknown = set(document) - {"rule_set", "rules"}
    if unknown:
        raise RuleError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    try:
        header = _Header.model_validate(document.get("rule_set", {}))
    except ValidationError as error:
        raise RuleError(f"{where}: [rule_set] {_first_problem(error)}") from error
    if header.id in seen:
        raise RuleError(f"{where}: rule set {header.id!r} is its own base")
    entries = document.get("rules", {})
    if not isinstance(entries, dict):
        raise RuleError(f"{where}: [rules] must be a table of rules")
    own: dict[str, Rule] = {}
    for rule_id, entry in entries.items():
        try:
            parsed = _RuleEntry.model_validate(entry)
        except ValidationError as error:
            raise RuleError(f"{where}: rule {rule_id}: {_first_problem(error)}") from error
        own[rule_id] = Rule(id=rule_id, origin=header.id, **parsed.model_dump())

    if header.base is None:
        chain = [header.id]
        rules = own
        if header.id != ROOT_RULE_SET:
            missing = sorted(set(_shipped(ROOT_RULE_SET).rules) - set(own))
            if missing:
                raise RuleError(
                    f"{where}: a rule set without a base must define every rule; missing: "
                    + ", ".join(missing)
                )
    else:
        base = _load(header.base, (*seen, header.id), folder or Path.cwd())
        for rule_id, rule in own.items():
            if rule_id not in base.rules:
                raise RuleError(
                    f"{where}: rule {rule_id!r} does not exist in base {base.id!r}; "
                    "check its spelling (openect plan rules lists them)"
                )
            expected = base.rules[rule_id].value
            if not _same_shape(expected, rule.value):
                raise RuleError(
                    f"{where}: rule {rule_id} value {rule.value!r} does not have the shape of "
                    f"the base value {expected!r}"
                )
        chain = [header.id, *base.chain]
        rules = {**base.rules, **own}
    return RuleSet(
        id=header.id,
        title=header.title,
        version=header.version,
        source=header.source,
        note=header.note,
        chain=chain,
        rules=dict(sorted(rules.items())),
    )


def _same_shape(expected: Any, value: Any) -> bool:
    """True when ``value`` can stand in for ``expected`` (numbers for numbers, same keys)."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool)
    if isinstance(expected, int | float):
        return isinstance(value, int | float)
    if isinstance(expected, str):
        return isinstance(value, str)
    if isinstance(expected, dict):
        return (
            isinstance(value, dict)
            and set(value) == set(expected)
            and all(_same_shape(expected[k], value[k]) for k in expected)
        )
    if isinstance(expected, list):
        if not isinstance(value, list) or not value:
            return False
        if expected and all(isinstance(row, dict) for row in expected):
            # A step table: rows may use any of the base table's keys, with numbers.
            keys = set().union(*expected)
            return all(
                isinstance(row, dict)
                and bool(row)
                and set(row) <= keys
                and all(_same_shape(0, cell) for cell in row.values())
                for row in value
            )
        return all(any(_same_shape(e, item) for e in expected) for item in value)
    return False


def _first_problem(error: ValidationError) -> str:
    problem = field_errors(error)[0]
    return f"{problem.field or 'value'}: {problem.message}"
