"""API tokens of the REST API (stored hashed, shown once, with an expiry, revocable).

A token stops working when it expires (``OPENECT_TOKEN_DAYS`` after it was issued), when
it is revoked (``openect web token-revoke``, the ``/admin/tokens/`` page) and, revoked
automatically, when its user is deactivated or their password changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

#: Prefix of every token, so that leaked tokens are recognisable.
TOKEN_PREFIX = "oect_"


def hash_token(token: str) -> str:
    """SHA-256 of a token (what the database keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def default_expiry() -> dt.datetime:
    """Now plus ``OPENECT_TOKEN_DAYS`` (the expiry of a new token; Django's setting
    ``OPENECT_TOKEN_DAYS``, from the web settings, 90 where absent)."""
    now: dt.datetime = timezone.now()
    return now + dt.timedelta(days=int(getattr(settings, "OPENECT_TOKEN_DAYS", 90)))


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    """Queries of tokens."""

    def usable(self) -> ApiTokenQuerySet:
        """Tokens neither revoked nor expired (of active users or not)."""
        usable: ApiTokenQuerySet = self.filter(revoked__isnull=True, expires__gt=timezone.now())
        return usable

    def revoke(self) -> int:
        """Mark the tokens not yet revoked as revoked now, each logged in the access log
        (never blocked by it); return how many."""
        from openect.registry.access_log import AccessAction
        from openect.web.access_log import log_token

        pending = list(self.filter(revoked__isnull=True).select_related("user"))
        count: int = ApiToken.every.filter(
            pk__in=[token.pk for token in pending], revoked__isnull=True
        ).update(revoked=timezone.now())
        for token in pending:
            log_token(token.user, token.pk, token.name, AccessAction.TOKEN_REVOKED)
        return count


class UsableTokenManager(models.Manager["ApiToken"]):
    """Only the tokens neither revoked nor expired (``now`` taken at each query)."""

    def get_queryset(self) -> ApiTokenQuerySet:
        """The usable tokens."""
        return ApiTokenQuerySet(self.model, using=self._db).usable()


class ApiToken(models.Model):
    """A bearer token of one user for the REST API."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="openect_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True)
    expires = models.DateTimeField(default=default_expiry)
    revoked = models.DateTimeField(null=True, blank=True)

    #: Every token (listing, revoking); the default manager of Django's machinery.
    every = ApiTokenQuerySet.as_manager()
    #: The tokens that authenticate: neither revoked nor expired (what the API's token
    #: check and the page cache's identity read, so that a revoked or expired token is
    #: never answered, not even from the cache).
    objects = UsableTokenManager()

    class Meta:
        db_table = "openect_api_token"
        ordering = ("-created", "-id")
        default_manager_name = "every"

    @classmethod
    def issue(cls, user: object, name: str, days: int | None = None) -> str:
        """Create a token for ``user`` valid ``days`` (default ``OPENECT_TOKEN_DAYS``),
        logged in the access log; return it (the only time it is visible)."""
        from openect.registry.access_log import AccessAction
        from openect.web.access_log import log_token

        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = default_expiry() if days is None else timezone.now() + dt.timedelta(days=days)
        with transaction.atomic():  # a token that cannot be logged is not issued
            made = cls.every.create(user=user, name=name, digest=hash_token(token), expires=expires)
            log_token(user, made.pk, name, AccessAction.TOKEN_ISSUED)
        return token

    @property
    def status(self) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked is not None:
            return "revoked"
        return "expired" if self.expires <= timezone.now() else "active"


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _note_credentials_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Before a user is saved: note whether their password or active flag changes."""
    instance._openect_revoke_tokens = False
    if instance.pk is None or kwargs.get("raw"):
        return
    old = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if old is None:
        return
    instance._openect_revoke_tokens = old["password"] != instance.password or (
        old["is_active"] and not instance.is_active
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _revoke_tokens_on_credentials_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """After a user's password changed or they were deactivated: revoke their tokens."""
    if getattr(instance, "_openect_revoke_tokens", False):
        ApiToken.every.filter(user=instance).revoke()
        instance._openect_revoke_tokens = False
