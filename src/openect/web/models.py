"""API tokens of the REST API (stored hashed, shown once)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

#: Prefix of every token, so that leaked tokens are recognisable.
TOKEN_PREFIX = "oect_"


def hash_token(token: str) -> str:
    """SHA-256 of a token (what the database keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """A bearer token of one user for the REST API."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="openect_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True)

    class Meta:
        db_table = "openect_api_token"

    @classmethod
    def issue(cls, user: object, name: str) -> str:
        """Create a token for ``user``; return it (the only time it is visible)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        cls.objects.create(user=user, name=name, digest=hash_token(token))
        return token
