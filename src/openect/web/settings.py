"""Django settings of the web application, from OpenECT's settings.

Every value comes from :func:`openect.settings.get_settings` (the ``OPENECT_*``
environment variables and ``DATABASE_URL``, validated once; see ``docs/settings.md`` or
``openect config show``):

| variable | meaning | default |
|---|---|---|
| ``DATABASE_URL`` / ``_FILE`` | the registry database | the embedded SQLite file |
| ``OPENECT_SECRET_KEY`` / ``_FILE`` | session and CSRF signing key | random, in ``secret.key`` |
| ``OPENECT_ALLOWED_HOSTS`` | comma-separated host names | ``localhost,127.0.0.1,[::1]`` |
| ``OPENECT_HTTPS`` | ``true`` behind HTTPS: secure cookies, HSTS, redirect | false |
| ``OPENECT_DEBUG`` | ``true`` shows debug pages (never in production) | false |
| ``OPENECT_TIME_ZONE`` | local time zone of the pages (e.g. ``Europe/Ljubljana``) | ``UTC`` |
| ``OPENECT_SECOND_FACTOR_MANAGERS`` | ``true``: data managers need a second factor too | false |

``secret.key`` lives in the data directory beside the SQLite registry.
``build_settings()`` gives the same settings as a dict (used by ``openect serve`` and the
tests); this module's globals are those of the environment, for
``DJANGO_SETTINGS_MODULE=openect.web.settings``. An invalid setting stops the start with
a :class:`~openect.errors.ConfigurationError` naming every bad variable.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openect.registry.config import database_settings, database_url
from openect.settings import PASSWORD_VALIDATORS, Settings, get_settings

PACKAGE = Path(__file__).resolve().parent


def data_directory() -> Path:
    """Folder of the web application's own files (secret key, collected static files)."""
    return get_settings().data_dir


def secret_key(settings: Settings | None = None) -> str:
    """``OPENECT_SECRET_KEY`` (or its file), else a random key created once in the data
    directory."""
    settings = settings if settings is not None else get_settings()
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / "secret.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text(encoding="utf-8").strip()


def build_settings(
    url: str | None = None,
    *,
    debug: bool | None = None,
    https: bool | None = None,
    static_root: Path | None = None,
    allowed_hosts: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The web application's Django settings for the database at ``url``.

    Arguments given override the settings (``settings``, by default those of the
    process); ConfigurationError if those are invalid.
    """
    settings = settings if settings is not None else get_settings()
    debug = settings.debug if debug is None else debug
    https = settings.https if https is None else https
    hosts = list(settings.allowed_hosts if allowed_hosts is None else allowed_hosts)
    return {
        "DEBUG": debug,
        "SECRET_KEY": secret_key(settings),
        "ALLOWED_HOSTS": hosts,
        "DATABASES": {"default": database_settings(database_url(url, settings))},
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "openect.registry",
            "openect.web",
            # Swagger UI's JS and CSS from ninja's package (static files), not a CDN
            "ninja",
            # sign-in throttling and its access log
            "axes",
            # the second factor (TOTP devices)
            "django_otp",
            "django_otp.plugins.otp_totp",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            # CSP and Cache-Control: no-store on everything but the static files
            "openect.web.security.SecurityHeadersMiddleware",
            "openect.web.input_guard.InputGuardMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            # user.is_verified(); then a session still owing its code (or a device its
            # role requires) reaches only that step and sign-out
            "django_otp.middleware.OTPMiddleware",
            "openect.web.pages.second_factor.SecondFactorMiddleware",
            # the user's centre's time zone: pages, "today" of the records entered
            "openect.web.time_zones.CentreTimeZoneMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "openect.web.cache.RegistryPageCacheMiddleware",
            # answers a locked-out sign-in with the lockout page (429); last, as axes asks
            "axes.middleware.AxesMiddleware",
        ],
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "openect-pages",
                "OPTIONS": {"MAX_ENTRIES": 5000},
            }
        },
        "ROOT_URLCONF": "openect.web.urls",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                        "openect.web.context.membership",
                        "openect.web.time_zones.time_zone",
                    ]
                },
            }
        ],
        "WSGI_APPLICATION": "openect.web.wsgi.application",
        "USE_TZ": True,
        "TIME_ZONE": settings.time_zone,
        "LANGUAGE_CODE": "en-gb",
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "STATIC_URL": "/static/",
        "STATIC_ROOT": str(static_root or settings.data_dir / "static"),
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
        },
        "AUTH_PASSWORD_VALIDATORS": [dict(v) for v in PASSWORD_VALIDATORS],
        "OPENECT_TOKEN_DAYS": settings.token_days,
        # sign-in throttling (django-axes): per user name (from any address) and per
        # address (any user name); a success resets the count; every attempt logged
        "AUTHENTICATION_BACKENDS": [
            "axes.backends.AxesStandaloneBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        "AXES_ENABLED": True,
        "AXES_FAILURE_LIMIT": settings.login_failure_limit,
        "AXES_COOLOFF_TIME": dt.timedelta(minutes=settings.login_cooloff_minutes),
        "AXES_LOCKOUT_PARAMETERS": ["username", "ip_address"],
        "AXES_RESET_ON_SUCCESS": True,
        "AXES_ENABLE_ACCESS_FAILURE_LOG": True,
        "AXES_HTTP_RESPONSE_CODE": 429,
        "AXES_LOCKOUT_CALLABLE": "openect.web.pages.accounts.locked_out",
        "AXES_VERBOSE": False,
        # the client's address: REMOTE_ADDR, or behind the HTTPS proxy (OPENECT_HTTPS) the
        # address that proxy appends to X-Forwarded-For (the last one; never one a client
        # wrote itself)
        "AXES_IPWARE_META_PRECEDENCE_ORDER": (
            ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if https else ("REMOTE_ADDR",)
        ),
        "AXES_IPWARE_PROXY_COUNT": 1 if https else None,
        # read by this function (django-ipware, which would read the two above, is not
        # a dependency): the same address as the access log's
        "AXES_CLIENT_IP_CALLABLE": "openect.web.access_log.client_address",
        # the second factor (docs/web.md#second-factor): roles that must set one up;
        # a wrong code waits 2**(n-1) seconds after n failures of the device
        "OPENECT_SECOND_FACTOR_ROLES": ["admin"]
        + (["data_manager"] if settings.second_factor_managers else []),
        "OTP_TOTP_ISSUER": "OpenECT",
        "OTP_TOTP_THROTTLE_FACTOR": 1,
        "LOGIN_URL": "/login/",
        "LOGIN_REDIRECT_URL": "/",
        "LOGOUT_REDIRECT_URL": "/login/",
        # cookies and headers
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_AGE": 8 * 3600,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": https,
        "SECURE_SSL_REDIRECT": https,
        "SECURE_HSTS_SECONDS": 31536000 if https else 0,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "LOGGING_CONFIG": None,
    }


globals().update(build_settings())
