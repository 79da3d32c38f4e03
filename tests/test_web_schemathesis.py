"""The REST API against its own OpenAPI schema (schemathesis): every operation, as an
administrator and as a clinician of C01, with generated valid and invalid inputs.

No response may be a server error (5xx), and every response must have a documented
status code, content type and body schema. The calls run in-process (WSGI) inside the
test's database transaction, on the small hand-written dataset; path identifiers and
references in bodies are drawn from its rows half of the time, so that reads,
creates, changes and deletes of existing records are exercised, not only 404s and
"unknown patient_id".
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import small_dataset
from openect.data.models import ENTITIES
from openect.data.schema import columns
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken, hash_token

#: The web application in-process (what ``openect serve`` runs), in the test database.
application = WSGIHandler()
#: Fixed, so that runs are repeatable; set OPENECT_SCHEMATHESIS_SEED to explore other inputs.
SEED = int(os.environ.get("OPENECT_SCHEMATHESIS_SEED", "20250601"))
CONFIG = schemathesis.Config.from_dict(
    {"seed": SEED, "generation": {"max-examples": 15, "database": "none"}}
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=CONFIG)

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
#: Identifiers of the rows of the test dataset, by table.
KNOWN_IDS = {
    record.table: [item.id for item in getattr(small_dataset(), record.table)]
    for record in ENTITIES
}
#: Existing rows each reference column may point to.
REFERENCES = {
    column.name: KNOWN_IDS[column.references]
    for record in ENTITIES
    for column in columns(record)
    if column.references is not None
}

pytestmark = pytest.mark.django_db


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half of the generated ``record_id`` values are ids of existing rows."""
    table = context.operation.path.split("/")[2]
    known = KNOWN_IDS.get(table)
    if not path_parameters or "record_id" not in path_parameters or not known:
        return st.just(path_parameters)
    existing = st.sampled_from(known).map(lambda key: {**path_parameters, "record_id": key})
    return st.one_of(st.just(path_parameters), existing)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """References in bodies (patient_id, lesion_id, ...) point to existing rows half of the
    time, so that creates and plans get past "unknown patient_id"."""
    names = [name for name in body if name in REFERENCES] if isinstance(body, dict) else []
    if not names:
        return st.just(body)
    choices = {
        name: st.one_of(st.just(body[name]), st.sampled_from(REFERENCES[name])) for name in names
    }
    return st.fixed_dictionaries(choices).map(lambda chosen: {**body, **chosen})


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Any:
    """Requests must not close the database connection that holds the test's transaction
    (as Django's test client, which also disconnects ``close_old_connections``)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["admin", "clinician"])
def bearer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The small dataset loaded, a pseudonym key, and the Authorization header of an
    administrator or a clinician of C01."""
    monkeypatch.setenv("OPENECT_PSEUDONYM_KEY", "schemathesis-" + "k" * 40)
    admin = Actor("admin", Role.ADMIN)
    import_dataset(admin, small_dataset())
    role = str(request.param)
    username = f"schemathesis.{role}"
    set_user(admin, username, role, "C01" if role == "clinician" else None)
    token = f"oect_schemathesis-{role}"
    user = get_user_model().objects.get(username=username)
    ApiToken.objects.create(user=user, name="schemathesis", digest=hash_token(token))
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_conforms_to_its_schema(case: Any, bearer: dict[str, str]) -> None:
    case.call_and_validate(headers=bearer, checks=CHECKS)
