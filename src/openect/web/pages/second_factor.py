"""The second factor (TOTP, django-otp): the code step of the sign-in, the account page
where a user sets up an authenticator app, and the middleware that keeps a password-only
session out of every page.

| URL | methods | name |
|---|---|---|
| ``/login/code/`` | GET, POST (the code) | ``login-code`` |
| ``/account/`` | GET, POST (the code confirming a new authenticator) | ``account`` |

Who needs what:

- a user with a confirmed device (any role) gives a 6-digit code after the password at
  every sign-in; until then the session reaches only ``/login/code/`` and sign-out;
- a user whose role is in ``OPENECT_SECOND_FACTOR_ROLES`` (administrators; data
  managers too with ``OPENECT_SECOND_FACTOR_MANAGERS=true``) and who has no confirmed
  device reaches only ``/account/`` (set it up) and sign-out;
- anyone else may set one up on ``/account/`` and then needs it at every sign-in.

On ``/api/`` (but the documentation page) such a session counts as no session: 401,
unless the call carries an API token, which the second factor does not concern.

Wrong codes are throttled twice: by the device (django-otp: after ``n`` failures the
next try waits ``2**(n-1)`` seconds, whatever the session or address) and by the
sign-in throttling (django-axes: each wrong code counts as a failed sign-in of the user
name and the address; at the limit the session is signed out and sign-in is paused).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from base64 import b32encode
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from openect.registry.access import Actor
from openect.registry.accounts import audit_second_factor
from openect.registry.models import Membership
from openect.web.pages.accounts import locked_out
from openect.web.pages.common import allow, with_actor

log = logging.getLogger(__name__)

#: A code as typed: six digits, spaces allowed between them.
CODE = re.compile(r"\d{6}")

#: Name of the device a user sets up on the account page.
DEVICE_NAME = "authenticator app"

#: What a session still has to do before it reaches the pages.
CODE_STEP = "code"
ENROL_STEP = "enrol"


def required_roles() -> frozenset[str]:
    """Roles that must set up a second factor (``OPENECT_SECOND_FACTOR_ROLES``)."""
    return frozenset(getattr(settings, "OPENECT_SECOND_FACTOR_ROLES", ("admin",)))


def must_enrol(user: Any) -> bool:
    """True when the user's registry role requires a second factor."""
    role = Membership.objects.filter(user=user).values_list("role", flat=True).first()
    return role is not None and role in required_roles()


def confirmed_device(user: Any) -> TOTPDevice | None:
    """The user's confirmed TOTP device, or None."""
    found: TOTPDevice | None = (
        TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    )
    return found


def pending_step(user: Any) -> str | None:
    """What a signed-in user's session lacks: :data:`CODE_STEP` (a device, not verified
    in this session), :data:`ENROL_STEP` (no device, and the role requires one), or None
    (nothing: verified, or neither needed nor set up; also for anonymous users)."""
    if user is None or not user.is_authenticated:
        return None
    verified = getattr(user, "is_verified", None)
    if verified is not None and verified():
        return None
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return CODE_STEP
    if must_enrol(user):
        return ENROL_STEP
    return None


class SecondFactorMiddleware:
    """Send a session that still needs its code (or, for a role that requires one, a
    device) to that step; its API calls are answered as without a session.

    Installed after django-otp's ``OTPMiddleware`` (which gives ``user.is_verified()``)
    and before anything that serves pages (the page cache).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = pending_step(getattr(request, "user", None))
        if step is None:
            return self.get_response(request)
        target = reverse("login-code" if step == CODE_STEP else "account")
        path = request.path_info
        if path in (target, reverse("logout")):
            return self.get_response(request)
        if path.startswith("/api/") and not path.startswith("/api/docs"):
            # the session does not count; an API token (Authorization header) still does
            request.user = AnonymousUser()
            return self.get_response(request)
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


def _following(request: HttpRequest) -> str:
    """Where to go after the step: ``next`` when it is a path of this site, else ``/``."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return "/"


def _typed_code(request: HttpRequest) -> str | None:
    """The code of the form (spaces removed), or None when it is not six digits."""
    code = re.sub(r"\s", "", request.POST.get("code", ""))
    return code if CODE.fullmatch(code) else None


#: The message of a code that is not six digits.
MALFORMED = "code: enter the 6 digits your authenticator app shows now"

#: The message of a code that was refused.
REFUSED = (
    "code: not accepted (wrong, expired or already used); enter the code your "
    "authenticator app shows now"
)


def _wait_message(device: TOTPDevice) -> str | None:
    """The message of a device throttled after wrong codes, or None when it may verify."""
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    until = (info or {}).get("locked_until")
    seconds = 1
    if isinstance(until, dt.datetime):
        seconds = max(1, int((until - timezone.now()).total_seconds() + 0.999))
    return f"code: too many wrong codes; try again in {seconds} second(s)"


def _check(device_id: int, code: str) -> tuple[TOTPDevice | None, str]:
    """Verify ``code`` with the device (its row locked: two tries cannot both pass).

    Returns (the device, "") on success, (None, :data:`REFUSED`) when refused and
    (None, a message saying how long to wait) while the device is throttled.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id).first()
        if device is None:
            return None, REFUSED
        waiting = _wait_message(device)
        if waiting is not None:
            return None, waiting
        if device.verify_token(code):
            return device, ""
    return None, REFUSED


def _count_failure(request: HttpRequest) -> bool:
    """Count a wrong code as a failed sign-in of the user name and address
    (django-axes); True when that reaches the limit (sign-in is paused)."""
    if not getattr(settings, "AXES_ENABLED", False):
        return False
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.update_request(request)
    user_login_failed.send(
        sender=__name__,
        credentials={"username": request.user.get_username()},
        request=request,
    )
    return bool(getattr(request, "axes_locked_out", False))


def _refused(request: HttpRequest, message: str, render_page: Callable[..., HttpResponse]) -> Any:
    """The answer to a refused code: the form again (422; 429 when the device waits), or,
    at the sign-in limit, signed out and the "Sign-in paused" page (429)."""
    username = request.user.get_username()
    if message == REFUSED:
        log.warning("second factor: wrong code for user %r", username)
        if _count_failure(request):
            log.warning("second factor: sign-in paused for user %r", username)
            logout(request)
            return locked_out(request, None, None)
    status = 422 if message == REFUSED else 429
    return render_page(error=message, status=status)


def _verified(request: HttpRequest, device: TOTPDevice) -> None:
    """Mark the session as verified with ``device`` (new session key)."""
    otp_login(request, device)
    request.session.cycle_key()


@allow("GET", "POST")
def code_step(request: HttpRequest) -> HttpResponse:
    """The sign-in's second step: the code of the user's authenticator app."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    following = _following(request)
    device = confirmed_device(user)
    if device is None or pending_step(user) is None:
        return redirect(following)

    def page(error: str | None = None, status: int = 200) -> HttpResponse:
        context = {"actor": None, "next": following, "error": error}
        return render(request, "web/accounts/code.html", context, status=status)

    if request.method != "POST":
        return page()
    code = _typed_code(request)
    if code is None:
        return page(error=MALFORMED, status=422)
    verified, message = _check(device.pk, code)
    if verified is None:
        response: HttpResponse = _refused(request, message, page)
        return response
    _verified(request, verified)
    log.info("second factor: user %r verified", user.get_username())
    return redirect(following)


def _pending_device(user: Any) -> TOTPDevice:
    """The user's device being set up (unconfirmed), made once so that reloading the
    page keeps the same secret."""
    found: TOTPDevice | None = (
        TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    )
    if found is None:
        found = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return found


def _qr_code(uri: str) -> str:
    """The ``otpauth://`` URI as an SVG QR code (a ``data:`` URI: the page's policy allows
    images from the site and ``data:`` only)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def _grouped(secret: str) -> str:
    """A base32 secret in groups of four letters (easier to type)."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@allow("GET", "POST")
@with_actor
def account(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The user's account: role, centre and second factor; setting one up (POST: the
    first code, which confirms the new authenticator)."""
    user = request.user
    required = actor.role.value in required_roles()
    device = confirmed_device(user)
    following = _following(request)
    step = pending_step(user)
    shown_actor = None if step is not None else actor
    base = {"actor": shown_actor, "me": actor, "required": required, "next": following}
    if device is not None:
        return render(request, "web/accounts/account.html", {**base, "device": device})
    pending = _pending_device(user)
    secret = b32encode(pending.bin_key).decode("ascii")

    def page(error: str | None = None, status: int = 200) -> HttpResponse:
        context = {
            **base,
            "secret": _grouped(secret),
            "uri": pending.config_url,
            "qr": _qr_code(pending.config_url),
            "error": error,
        }
        return render(request, "web/accounts/account.html", context, status=status)

    if request.method != "POST":
        return page()
    code = _typed_code(request)
    if code is None:
        return page(error=MALFORMED, status=422)
    verified, message = _check(pending.pk, code)
    if verified is None:
        response: HttpResponse = _refused(request, message, page)
        return response
    with transaction.atomic():
        TOTPDevice.objects.filter(pk=verified.pk).update(confirmed=True)
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    verified.confirmed = True
    _verified(request, verified)
    audit_second_factor(actor, actor.username, 0, 1, "second factor set up")
    log.info("second factor: user %r set up an authenticator", actor.username)
    messages.success(
        request, "Second factor set up: every sign-in now asks for a code of your app."
    )
    return redirect(following if step is not None else reverse("account"))
