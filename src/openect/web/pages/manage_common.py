"""What the administration pages (``/manage/``) share: administrators only, and forms
whose every refusal names the field, the value and what is allowed.

Every page of ``/manage/`` answers 403 to anyone but an administrator (whatever the
method, before anything else is looked up); an administrator reaches it only with a
session verified by the second factor (:mod:`openect.web.pages.second_factor`: the
role requires one). Administrators see every centre: the access model
(:mod:`openect.registry.access`) has no centre-scoped administrator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from openect.errors import RecordInvalidError
from openect.registry.access import Actor
from openect.registry.accounts import require_admin, shown
from openect.web.pages.common import View, allow, with_actor

#: HTTP status of a form sent back with errors.
INVALID = 422
#: What the pages manage (in the message of a refusal).
MANAGED = "users, centres and API tokens"


def admin_page(*methods: str) -> Callable[[View], View]:
    """Decorator: the view answers ``methods`` (405 otherwise), signed-in administrators
    only (403 page for anyone else); the view gets the :class:`Actor` as ``actor``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, actor: Actor, **kwargs: Any) -> HttpResponse:
            require_admin(actor, MANAGED)
            return view(request, *args, actor=actor, **kwargs)

        return allow(*methods)(with_actor(checked))

    return decorate


@dataclass
class Submitted:
    """The fields of a posted form, as typed, and the refusal of each bad one."""

    data: Mapping[str, Any]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, limit: int, *, required: bool = True) -> str:
        """Field ``name`` without surrounding spaces; "" and an error when it is missing
        (and ``required``) or longer than ``limit`` characters."""
        value = str(self.data.get(name, "")).strip()
        self.values[name] = value[:limit]
        if len(value) > limit:
            self.errors[name] = (
                f"{name}={shown(value)}: {len(value)} characters; allowed at most {limit}"
            )
            return ""
        if required and not value:
            self.errors[name] = f"{name}: required"
        return value

    def refuse(self, name: str, message: str) -> None:
        """Note the refusal of ``name`` (the first one of a field is kept)."""
        self.errors.setdefault(name, message)

    def refuse_error(self, error: Exception, fields: Mapping[str, str], default: str) -> None:
        """Note the refusal of a service (its message names the field first, as
        ``field=value: why`` or ``field: why``); ``fields`` maps the service's field
        names to the form's, ``default`` takes any other."""
        if isinstance(error, RecordInvalidError):
            for column, value, message in error.issues:
                name = fields.get(column or "", default)
                where = column if value is None else f"{column}={shown(str(value))}"
                self.refuse(name, f"{where}: {message}" if column else message)
            return
        message = str(error)
        named = re.match(r"[a-z_]+", message)
        self.refuse(fields.get(named.group(0) if named else "", default), message)

    @property
    def ok(self) -> bool:
        """True when no field was refused."""
        return not self.errors


def form_page(
    request: HttpRequest, template: str, context: Mapping[str, Any], form: Submitted | None
) -> HttpResponse:
    """``template`` with ``context`` and the form's values and errors; 422 when the
    form has errors, else 200."""
    errors = form.errors if form is not None else {}
    values = form.values if form is not None else {}
    status = INVALID if errors else 200
    return render(request, template, {**context, "errors": errors, "values": values}, status=status)
