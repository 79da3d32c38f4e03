"""The write guard: registry rows change only inside a service, which audits the change.

Every registry model uses :class:`GuardedQuerySet` and :class:`GuardedModel`, whose
writes (``save``, ``delete``, ``QuerySet.update``, ``delete``, ``bulk_create``,
``bulk_update``) raise :class:`UnauditedWriteError` unless :func:`service_write` is
active. Only :mod:`openect.registry.services` (and restore from a backup, which brings
its own audit trail) enters it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models

_WRITING: ContextVar[str | None] = ContextVar("openect_registry_writing", default=None)


class UnauditedWriteError(RuntimeError):
    """A registry row was written outside the services (it would escape the audit)."""


@contextmanager
def service_write(operation: str) -> Iterator[None]:
    """Allow registry writes for the duration of one audited ``operation``."""
    token = _WRITING.set(operation)
    try:
        yield
    finally:
        _WRITING.reset(token)


def check_write(what: str) -> None:
    """Raise :class:`UnauditedWriteError` unless inside :func:`service_write`."""
    if _WRITING.get() is None:
        raise UnauditedWriteError(
            f"{what}: registry rows are written only through openect.registry.services "
            "(which audit every change)"
        )


class GuardedQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes require an audited service operation."""

    def update(self, **kwargs: Any) -> int:
        check_write(f"{self.model.__name__}.objects.update")
        changed: int = super().update(**kwargs)
        return changed

    def delete(self) -> tuple[int, dict[str, int]]:
        check_write(f"{self.model.__name__}.objects.delete")
        deleted: tuple[int, dict[str, int]] = super().delete()
        return deleted

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        check_write(f"{self.model.__name__}.objects.bulk_create")
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        check_write(f"{self.model.__name__}.objects.bulk_update")
        return super().bulk_update(objs, *args, **kwargs)

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        check_write(f"{self.model.__name__}.objects.update_or_create")
        return super().update_or_create(*args, **kwargs)

    def get_or_create(self, *args: Any, **kwargs: Any) -> Any:
        check_write(f"{self.model.__name__}.objects.get_or_create")
        return super().get_or_create(*args, **kwargs)


GuardedManager = models.Manager.from_queryset(GuardedQuerySet)


class GuardedModel(models.Model):
    """Abstract base of every registry model: writes only through the services."""

    objects = GuardedManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        check_write(f"{type(self).__name__}.save")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        check_write(f"{type(self).__name__}.delete")
        return super().delete(*args, **kwargs)
