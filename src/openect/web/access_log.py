"""Recording the web application's reads and account events in the access log.

* :func:`log_read` is called by the views that show patient-level data (pages and API)
  once they know what they show and before they answer: it writes the entry
  (:func:`openect.registry.access_log.record`; a read that cannot be logged is refused
  with 503) and notes it on the request, so that the page cache
  (:mod:`openect.web.cache`) can log the same read again each time it serves the page
  from memory (:func:`replay`).
* Sign-ins, failed sign-ins and sign-outs are logged from Django's signals
  (:func:`connect`, called from the app's ``ready()``); API tokens from
  :mod:`openect.web.models` (:func:`log_token`).

The client's address (:func:`client_address`) is the one the sign-in throttling uses:
``REMOTE_ADDR``, or behind the HTTPS proxy (``OPENECT_HTTPS``) the address that proxy
appended to ``X-Forwarded-For`` (the last one; never one the client wrote itself).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.signals import request_finished, request_started
from django.http import HttpRequest

from openect.registry.access import Actor
from openect.registry.access_log import (
    AccessAction,
    AccessLogUnavailableError,
    Channel,
    Read,
    record,
    record_quietly,
)
from openect.registry.models import Membership

LOG = logging.getLogger(__name__)
#: Attribute of a request holding the reads its view logged (for the page cache).
READS_ATTRIBUTE = "_openect_reads"
#: The WSGI environment of the request being answered in this thread (for events that
#: happen without a request object at hand: API tokens issued or revoked on a page).
_ENVIRON: ContextVar[Mapping[str, Any] | None] = ContextVar("openect_environ", default=None)


@dataclass(frozen=True)
class LoggedRead:
    """A read as the page cache keeps it: who (name, role, centre) and what."""

    who: str
    role: str
    who_centre: str | None
    read: Read


# --------------------------------------------------------------------------- addresses
def _valid(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def address_of(meta: Mapping[str, Any]) -> str | None:
    """The client's address from a request's ``META`` (or a WSGI environment), as the
    sign-in throttling takes it; None when it is not a valid IP address."""
    order = tuple(getattr(settings, "AXES_IPWARE_META_PRECEDENCE_ORDER", ("REMOTE_ADDR",)))
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    for key in order:
        value = meta.get(key)
        if not value:
            continue
        if key == "HTTP_X_FORWARDED_FOR":
            parts = [part.strip() for part in str(value).split(",") if part.strip()]
            if proxies and len(parts) >= proxies:
                found = _valid(parts[-proxies])
                if found is not None:
                    return found
            continue
        return _valid(str(value))
    return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address of ``request`` (see the module)."""
    return address_of(request.META)


def channel_of(request: HttpRequest) -> Channel:
    """``api`` for ``/api/...``, else ``page``."""
    return Channel.API if request.path.startswith("/api/") else Channel.PAGE


# --------------------------------------------------------------------------- reads
def log_read(request: HttpRequest, actor: Actor, read: Read) -> None:
    """Log ``read`` by ``actor`` (AccessLogUnavailableError, i.e. 503, when it cannot be
    logged) and note it on the request for the page cache."""
    record(actor, read, channel_of(request), client_address(request))
    noted: list[LoggedRead] = getattr(request, READS_ATTRIBUTE, [])
    noted.append(LoggedRead(actor.username, actor.role.value, actor.centre_id, read))
    setattr(request, READS_ATTRIBUTE, noted)


def reads_of(request: HttpRequest) -> tuple[LoggedRead, ...]:
    """The reads the request's view logged (kept with a cached page)."""
    return tuple(getattr(request, READS_ATTRIBUTE, ()))


def replay(request: HttpRequest, reads: Sequence[LoggedRead]) -> None:
    """Log ``reads`` again for a page served from the cache (now, from this request's
    address); AccessLogUnavailableError when they cannot be logged."""
    for noted in reads:
        record(
            noted.who,
            noted.read,
            channel_of(request),
            client_address(request),
            role=noted.role,
            who_centre=noted.who_centre,
        )


# --------------------------------------------------------------------------- accounts
def _who(user: Any) -> tuple[str, str, str | None]:
    """User name, role and centre of a Django user (role blank without a membership)."""
    name = str(user.get_username()) if user is not None else ""
    found = (
        Membership.objects.filter(user=user).values_list("role", "centre_id").first()
        if user is not None and getattr(user, "pk", None) is not None
        else None
    )
    return (name, found[0], found[1]) if found else (name, "", None)


def _signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A successful sign-in: logged, and refused (a server error, no session) when it
    cannot be."""
    name, role, centre = _who(user)
    address = client_address(request) if request is not None else None
    channel = channel_of(request) if request is not None else Channel.PAGE
    record(
        name,
        Read(AccessAction.SIGN_IN, "users", name),
        channel,
        address,
        role=role,
        who_centre=centre,
    )


def _signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A sign-out: logged, never blocked."""
    if user is None:
        return
    name, role, centre = _who(user)
    address = client_address(request) if request is not None else None
    read = Read(AccessAction.SIGN_OUT, "users", name)
    record_quietly(name, read, Channel.PAGE, address, role=role, who_centre=centre)


def _sign_in_failed(
    sender: Any, credentials: Mapping[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A failed sign-in: the user name tried (never the password), logged, never blocked."""
    name = str(credentials.get("username") or "")[:150]
    address = client_address(request) if request is not None else None
    channel = channel_of(request) if request is not None else Channel.PAGE
    record_quietly(name, Read(AccessAction.SIGN_IN_FAILED, "users", name), channel, address)


def _request_started(sender: Any, environ: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    _ENVIRON.set(environ)


def _request_finished(sender: Any, **kwargs: Any) -> None:
    _ENVIRON.set(None)


def connect() -> None:
    """Connect the receivers (once; the app's ``ready()``)."""
    user_logged_in.connect(_signed_in, dispatch_uid="openect-access-sign-in")
    user_logged_out.connect(_signed_out, dispatch_uid="openect-access-sign-out")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="openect-access-sign-in-failed")
    request_started.connect(_request_started, dispatch_uid="openect-access-request")
    request_finished.connect(_request_finished, dispatch_uid="openect-access-request-end")


@contextmanager
def in_request(environ: Mapping[str, Any]) -> Iterator[None]:
    """Treat the code inside as answering a request with ``environ`` (for tests and for
    servers that do not send Django's request signals)."""
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def log_token(user: Any, token_id: int, label: str, action: AccessAction) -> None:
    """Log an API token issued or revoked: *who* is the token's user; the channel is
    ``page`` with the address when it happens while a request is answered, else ``cli``.

    A token that cannot be logged is not issued (AccessLogUnavailableError); a
    revocation is never blocked.
    """
    name, role, centre = _who(user)
    environ = _ENVIRON.get()
    channel = Channel.PAGE if environ is not None else Channel.CLI
    address = address_of(environ) if environ is not None else None
    read = Read(action, "api_tokens", str(token_id), f"label={label}"[:500])
    if action is AccessAction.TOKEN_REVOKED:
        record_quietly(name, read, channel, address, role=role, who_centre=centre)
    else:
        record(name, read, channel, address, role=role, who_centre=centre)


__all__ = [
    "AccessLogUnavailableError",
    "LoggedRead",
    "address_of",
    "channel_of",
    "client_address",
    "connect",
    "in_request",
    "log_read",
    "log_token",
    "reads_of",
    "replay",
]
