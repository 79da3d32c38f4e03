"""The errors OpenECT raises on purpose, in one hierarchy.

Every adapter maps these types, never their message text: the REST API to an HTTP
status (:data:`HTTP_STATUS` via :func:`http_status`), the command line to an exit code
(:func:`exit_code`: 2 for a problem with the user's input, 1 otherwise), the pages to an
error page. Messages name the field, the value and what is allowed.

| type | meaning | HTTP | exit |
|---|---|---|---|
| :class:`InputError` | the caller's input breaks a rule (field, value, allowed) | 400 | 2 |
| :class:`RecordInvalidError` | a record breaks a rule of the data model | 422 | 2 |
| :class:`RuleError` | a rule set is missing, malformed or lacks a rule | 400 | 2 |
| :class:`NotFoundError` | no such record (or none in the caller's scope) | 404 | 2 |
| :class:`AccessDeniedError` | the caller may not read or change it | 403 | 2 |
| :class:`RecordInUseError` | a record other records still refer to | 409 | 2 |
| :class:`ConfigurationError` | the installation lacks a setting or key it needs | 503 | 2 |
| :class:`ComputationError` | a numerical method did not reach an answer | 500 | 1 |
"""

from __future__ import annotations


class OpenECTError(Exception):
    """Base of every error OpenECT raises on purpose."""


class InputError(OpenECTError, ValueError):
    """The caller's input breaks a rule; the message names field, value and what is allowed."""


class RuleError(InputError):
    """A rule set is missing, malformed, or lacks a rule or value the planner needs."""


class NotFoundError(OpenECTError, LookupError):
    """No such record, or none within the caller's scope (other centres' records look absent)."""


class AccessDeniedError(OpenECTError, PermissionError):
    """The caller may not read or change the record(s)."""


class RecordInUseError(OpenECTError):
    """The record cannot be deleted or changed: other records still refer to it."""


class ConfigurationError(OpenECTError):
    """The installation lacks a setting, file or key that the request needs."""


class ComputationError(OpenECTError, RuntimeError):
    """A numerical method did not reach an answer (e.g. an iteration did not converge)."""


class RecordInvalidError(InputError):
    """A create or update that breaks a rule of the data model; nothing was written.

    ``issues`` are ``(column, value, message)`` triples; ``entity`` is the table name.
    """

    def __init__(self, entity_name: str, issues: list[tuple[str | None, str | None, str]]):
        self.entity = entity_name
        self.issues = issues
        text = "; ".join(
            f"{entity_name}.{column}={value!r}: {message}" if column else message
            for column, value, message in issues
        )
        super().__init__(text)


#: HTTP status of each error type, most specific first (the first match wins).
HTTP_STATUS: tuple[tuple[type[OpenECTError], int], ...] = (
    (RecordInvalidError, 422),
    (NotFoundError, 404),
    (AccessDeniedError, 403),
    (RecordInUseError, 409),
    (ConfigurationError, 503),
    (ComputationError, 500),
    (InputError, 400),
    (OpenECTError, 400),
)


def http_status(error: OpenECTError) -> int:
    """The HTTP status of ``error`` by its type (see :data:`HTTP_STATUS`)."""
    for kind, status in HTTP_STATUS:
        if isinstance(error, kind):
            return status
    return 400  # pragma: no cover - OpenECTError is the last row


def exit_code(error: OpenECTError) -> int:
    """The command line's exit code of ``error``: 1 for a computation that failed,
    2 for a problem the user can correct (input, rules, scope, configuration)."""
    return 1 if isinstance(error, ComputationError) else 2
