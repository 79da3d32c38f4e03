"""``openect serve`` (the web application with waitress), ``openect web token``,
``web tokens`` and ``web token-revoke`` (API tokens: issue, list, revoke) and
``web otp-status`` and ``web otp-reset`` (the second factor: who has one, remove one)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from openect.cli._output import CliError, check_range, emit_json, stderr, stdout, table

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (default: $DATABASE_URL or $DATABASE_URL_FILE, else embedded SQLite).",
    ),
]

web_app = typer.Typer(
    help="Web application helpers: API tokens (issue, list, revoke), second factor (status, "
    "reset).",
    no_args_is_help=True,
)


def setup_web(database: str | None, static_root: Path | None = None) -> str:
    """Configure Django with the web settings for ``database``; migrate; return the URL."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    from openect.errors import ConfigurationError
    from openect.registry.config import database_url

    try:
        from openect.web.settings import build_settings  # its globals read the settings

        url = database_url(database)
        options = None if settings.configured else build_settings(url, static_root=static_root)
    except ConfigurationError as error:
        raise CliError(str(error)) from None
    except ValueError as error:
        raise CliError(f"--database: {error}") from error
    if options is not None:
        settings.configure(**options)
        django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return url


def default_workers() -> int:
    """Worker processes by default: two per CPU core, at most 8."""
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (1024-65535).")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (1-32; default two per core)."),
    ] = None,
    threads: Annotated[int, typer.Option("--threads", help="Threads per worker (1-64).")] = 4,
    database: Database = None,
) -> int:
    """Run the web application and REST API with a production WSGI server.

    gunicorn with worker processes (threads in each) where it runs (Linux, macOS);
    waitress, threads in one process, elsewhere or with ``--workers 1``.
    """
    if not 1024 <= port <= 65535:
        raise CliError(f"--port={port}: out of range; allowed 1024 to 65535")
    if not 1 <= threads <= 64:
        raise CliError(f"--threads={threads}: out of range; allowed 1 to 64")
    processes = default_workers() if workers is None else workers
    if not 1 <= processes <= 32:
        raise CliError(f"--workers={processes}: out of range; allowed 1 to 32")
    with stderr.status("Preparing the database and static files...", spinner="dots"):
        url = setup_web(database)
        from openect.web.static_files import collect_static

        collect_static()  # only when the static files changed since the last start
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    from openect.settings import masked_url

    application = get_wsgi_application()
    connections.close_all()  # no connection may cross into the worker processes
    server = "gunicorn" if processes > 1 and _has_gunicorn() else "waitress"
    stdout.print(
        f"OpenECT at http://{host}:{port}/ (API: /api/docs; database {masked_url(url)}; "
        f"{server}, {processes if server == 'gunicorn' else 1} process(es) x {threads} "
        "threads). Stop with Ctrl-C.",
        soft_wrap=True,
    )
    if server == "gunicorn":
        _gunicorn(application, f"{host}:{port}", processes, threads)
    else:
        import waitress

        # ident="": no Server header (and no server name in waitress's own error pages)
        waitress.serve(application, host=host, port=port, threads=threads, ident="")
    return 0


def _has_gunicorn() -> bool:
    """True where gunicorn can run (it needs fork: Linux, macOS)."""
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:
        return False
    return True


def _gunicorn(application: Any, bind: str, workers: int, threads: int) -> None:
    """Serve ``application`` with gunicorn (pre-forked workers, threads in each)."""
    from gunicorn.app.base import BaseApplication

    _drop_gunicorn_server_header()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "proc_name": "openect",
                "timeout": 120,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    Server().run()


def _drop_gunicorn_server_header() -> None:
    """Make gunicorn's responses go out without their ``Server: gunicorn`` line.

    gunicorn writes that line in ``Response.default_headers`` with no setting to turn
    it off; the workers fork after this, so they inherit the change.
    """
    from gunicorn.http import wsgi

    original = wsgi.Response.default_headers
    if getattr(original, "_openect_no_server", False):
        return

    def default_headers(self: Any) -> list[str]:
        lines: list[str] = original(self)
        return [line for line in lines if not line.lower().startswith("server:")]

    default_headers._openect_no_server = True  # type: ignore[attr-defined]
    wsgi.Response.default_headers = default_headers


@web_app.command("token")
def token(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "api",
    days: Annotated[
        int | None,
        typer.Option("--days", help="Days it stays valid (default $OPENECT_TOKEN_DAYS, 90)."),
    ] = None,
    database: Database = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> int:
    """Issue a REST API token for a user (shown once; stored hashed; it expires)."""
    if days is not None:
        check_range("--days", days, 1, 3650)
    setup_web(database)
    from django.contrib.auth import get_user_model

    from openect.web.models import ApiToken

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CliError(f"USERNAME={username!r}: no such user (create it: openect registry user)")
    if not user.is_active:
        raise CliError(f"USERNAME={username!r}: the user is deactivated")
    issued = ApiToken.issue(user, name, days)
    expires = ApiToken.every.get(digest=_digest(issued)).expires
    if as_json:
        emit_json({"username": username, "token": issued, "expires": expires.isoformat()})
    else:
        stdout.print(issued)
        stderr.print(f"Valid until {expires:%Y-%m-%d %H:%M} UTC; shown only now.")
    return 0


def _digest(issued: str) -> str:
    from openect.web.models import hash_token

    return hash_token(issued)


def _when(value: Any) -> str | None:
    """A time as ``YYYY-MM-DD HH:MM`` (UTC), or None."""
    return None if value is None else f"{value:%Y-%m-%d %H:%M}"


@web_app.command("tokens")
def tokens(
    username: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    database: Database = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> int:
    """List API tokens (id, user, label, created, expires, last used, status); never the
    secret."""
    setup_web(database)
    from openect.web.models import ApiToken

    found = ApiToken.every.select_related("user")
    if username is not None:
        found = found.filter(user__username=username)
    rows = [
        {
            "id": t.pk,
            "user": t.user.get_username(),
            "label": t.name,
            "created": _when(t.created),
            "expires": _when(t.expires),
            "last_used": _when(t.last_used),
            "status": t.status,
        }
        for t in found
    ]
    if as_json:
        emit_json({"tokens": rows})
    else:
        columns = ("id", "user", "label", "created", "expires", "last used", "status")
        stdout.print(
            table(
                "API tokens (UTC)", columns, [tuple(r.values()) for r in rows], keys=["id", "user"]
            )
        )
    return 0


@web_app.command("token-revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The id shown by web tokens.")],
    database: Database = None,
) -> int:
    """Revoke an API token: it is answered 401 from now on."""
    setup_web(database)
    from openect.web.models import ApiToken

    found = ApiToken.every.filter(pk=token_id).first()
    if found is None:
        raise CliError(f"ID={token_id}: no such token (list them: openect web tokens)")
    if ApiToken.every.filter(pk=token_id).revoke() == 0:
        stdout.print(f"Token {token_id} was already revoked")
    else:
        stdout.print(f"Token {token_id} of {found.user.get_username()} revoked")
    return 0


def _second_factor_state(user: Any) -> tuple[str, Any, Any]:
    """(state, since, last used) of a user's second factor: ``confirmed``, ``pending``
    (set up begun, not confirmed) or ``none``."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = list(TOTPDevice.objects.filter(user=user).order_by("pk"))
    confirmed = [d for d in devices if d.confirmed]
    if confirmed:
        return "confirmed", confirmed[0].created_at, confirmed[0].last_used_at
    return ("pending" if devices else "none"), None, None


@web_app.command("otp-status")
def otp_status(
    username: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
    database: Database = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> int:
    """List active users' second factor (TOTP): role, required, state, set up, last used.

    State: confirmed, pending (set-up begun, not confirmed) or none; the users whose role
    requires one and who have none are named on stderr.
    """
    setup_web(database)
    from django.contrib.auth import get_user_model

    from openect.registry.models import Membership
    from openect.web.pages.second_factor import required_roles

    users = get_user_model().objects.filter(is_active=True).order_by("username")
    if username is not None:
        users = users.filter(username=username)
        if not users.exists():
            raise CliError(f"--user={username!r}: no such active user")
    roles = dict(Membership.objects.values_list("user_id", "role"))
    rows = []
    for user in users:
        role = roles.get(user.pk)
        state, since, used = _second_factor_state(user)
        rows.append(
            {
                "user": user.get_username(),
                "role": role or "-",
                "required": role in required_roles(),
                "second_factor": state,
                "since": _when(since),
                "last_used": _when(used),
            }
        )
    if as_json:
        emit_json({"users": rows})
    else:
        columns = ("user", "role", "required", "second factor", "since", "last used")
        shown = [
            (r["user"], r["role"], "yes" if r["required"] else "no", *list(r.values())[3:])
            for r in rows
        ]
        stdout.print(table("Second factor (UTC)", columns, shown))
        missing = [r["user"] for r in rows if r["required"] and r["second_factor"] != "confirmed"]
        if missing:
            stderr.print(
                f"Required but not set up (they set it up at their next sign-in): "
                f"{', '.join(missing)}",
                soft_wrap=True,
            )
    return 0


@web_app.command("otp-reset")
def otp_reset(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    database: Database = None,
) -> int:
    """Remove a user's second factor (a lost or new phone); audited. An administrator
    (or a role that requires one) sets up a new one at the next sign-in; others may."""
    setup_web(database)
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from openect.registry.access import Actor
    from openect.registry.accounts import audit_second_factor
    from openect.web.pages.second_factor import log

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CliError(f"USERNAME={username!r}: no such user (list them: openect web otp-status)")
    devices = TOTPDevice.objects.filter(user=user)
    confirmed = devices.filter(confirmed=True).count()
    removed, _ = devices.delete()
    if confirmed == 0:
        stdout.print(f"User {username} had no second factor set up; nothing to reset")
        return 0
    actor = Actor.command_line()
    audit_second_factor(
        actor, username, confirmed, 0, "second factor reset (openect web otp-reset)"
    )
    log.warning("second factor: %s removed the authenticator of user %r", actor.username, username)
    stdout.print(
        f"Second factor of {username} removed ({removed} device(s)); a new one is set up "
        "on the account page (/account/), where the role requires it at the next sign-in"
    )
    return 0
