"""The session pages' forms come from the protocol: the planning form's bounds, labels,
choices and defaults are those of the planner's models, and the recording defaults and
window texts are those of the rule set in force - a change of a bound or a rule changes
the form."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from pydantic import Field, ValidationError

from centre_rules import CENTRE
from openect.data.dataset import Dataset
from openect.data.enums import Drug
from openect.data.field_errors import field_errors
from openect.data.models import Session
from openect.protocol.inputs import Contraindications, IvPolicy, PatientToPlan, PlanOptions
from openect.protocol.recording import shipped
from openect.protocol.rules import RuleSet, load_rule_set
from openect.registry import accounts, services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.pages.forms import GreaterThanValidator, add_field_errors, model_field
from openect.web.pages.sessions import rule_sets
from openect.web.pages.sessions.forms import PlanForm

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"


def bound(model: type[Any], name: str, kind: type[Any]) -> float:
    """The bound ``kind`` (annotated_types.Ge, Le, Gt) of field ``name`` of ``model``."""
    found = [m for m in model.model_fields[name].metadata if isinstance(m, kind)]
    assert found, f"{model.__name__}.{name} has no {kind.__name__} bound"
    return float(getattr(found[0], kind.__name__.lower()))


def plan_form(
    data: dict[str, Any] | None = None, offered: dict[str, RuleSet] | None = None
) -> PlanForm:
    """A planning form without lesions, over the shipped rule sets (or ``offered``)."""
    return PlanForm(data, prefix="plan", lesions=[], rule_sets=offered or shipped())


# ----------------------------------------------------------------------------- the models
@pytest.mark.parametrize(
    ("model", "name"),
    [
        (PatientToPlan, "height_cm"),
        (PatientToPlan, "weight_kg"),
        (PatientToPlan, "prior_bleomycin_iu"),
        (PlanOptions, "margin_mm"),
    ],
)
def test_the_inclusive_bounds_are_the_models(model: type[Any], name: str) -> None:
    field = plan_form().fields[name]
    assert isinstance(field, forms.FloatField)
    assert field.min_value == bound(model, name, at.Ge)
    assert field.max_value == bound(model, name, at.Le)
    assert field.widget.attrs["max"] == bound(model, name, at.Le)


@pytest.mark.parametrize(
    "name", ["creatinine_mg_dl", "creatinine_umol_l", "creatinine_clearance_ml_min"]
)
def test_strict_lower_bounds_are_the_models(name: str) -> None:
    field = plan_form().fields[name]
    assert isinstance(field, forms.FloatField)
    assert field.max_value == bound(PatientToPlan, name, at.Le)
    strict = [v for v in field.validators if isinstance(v, GreaterThanValidator)]
    assert [v.limit_value for v in strict] == [bound(PatientToPlan, name, at.Gt)]
    assert field.required is False  # optional in the model


def test_the_height_bound_of_the_form_is_the_planners() -> None:
    assert (
        plan_form().fields["height_cm"].max_value == 250 == bound(PatientToPlan, "height_cm", at.Le)
    )
    too_tall = plan_form({"plan-height_cm": "251"})
    assert not too_tall.is_valid()
    assert "less than or equal to 250" in str(too_tall.errors["height_cm"])
    no_creatinine = plan_form({"plan-creatinine_mg_dl": "0"})
    assert not no_creatinine.is_valid()
    assert "greater than 0" in str(no_creatinine.errors["creatinine_mg_dl"])


def test_a_changed_bound_changes_the_field() -> None:
    class Taller(PatientToPlan):
        height_cm: float = Field(ge=40, le=272, description="Height, standing (cm)")

    field = model_field(Taller, "height_cm")
    assert isinstance(field, forms.FloatField)
    assert (field.min_value, field.max_value, field.label) == (40, 272, "Height, standing (cm)")


def test_labels_choices_and_defaults_are_the_models() -> None:
    form = plan_form()
    assert form.fields["height_cm"].label == PatientToPlan.model_fields["height_cm"].description
    assert form.fields["weight_kg"].label == "Weight (kg)"
    assert form.fields["height_cm"].required is True
    drug = form.fields["drug"]
    assert isinstance(drug, forms.ChoiceField)
    assert [value for value, _ in drug.choices] == [d.value for d in Drug]
    assert drug.initial == PlanOptions().drug.value
    policy = form.fields["iv_policy"]
    assert isinstance(policy, forms.ChoiceField)
    assert [value for value, _ in policy.choices] == ["", *(p.value for p in IvPolicy)]
    assert form.fields["rules"].initial == PlanOptions().rules
    flags = form.fields["contraindications"]
    assert isinstance(flags, forms.MultipleChoiceField)
    assert [name for name, _ in flags.choices] == list(Contraindications.model_fields)
    assert dict(flags.choices)["pacemaker"] == "Pacemaker or defibrillator near the treated site"


def test_the_models_errors_go_on_the_forms_fields() -> None:
    form = plan_form({"plan-height_cm": "170"})
    form.is_valid()
    with pytest.raises(ValidationError) as refused:
        PatientToPlan(height_cm=30, weight_kg=70, creatinine_mg_dl=1, creatinine_umol_l=90)
    rest = add_field_errors(form, field_errors(refused.value))
    assert "greater than or equal to 50" in str(form.errors["height_cm"])
    assert rest == []  # the model's own rules ran after the bounds: not reached


# ----------------------------------------------------------------------------- the rules
@pytest.fixture
def centre(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RuleSet:
    """The centre's rule set, offered on the pages next to the shipped ones."""
    path = tmp_path / "centre-x.toml"
    path.write_text(CENTRE, encoding="utf-8")
    rule_set = load_rule_set(path)
    monkeypatch.setattr(rule_sets, "offered", lambda: shipped() | {rule_set.id: rule_set})
    return rule_set


def test_the_window_choices_are_worded_from_the_rule_set_in_force(centre: RuleSet) -> None:
    default = dict(plan_form().fields["window"].choices)
    assert default["standard"] == "standard: IV 8–28\u00a0min, IT 0–10\u00a0min"
    assert default["pk"].startswith("pharmacokinetic by age (IV): 8–40\u00a0min over 65 years")
    offered = rule_sets.offered()
    form = plan_form({"plan-rules": "centre-x"}, offered)
    assert form.rule_set is centre
    assert dict(form.fields["window"].choices)["standard"] == (
        "standard: IV 5–20\u00a0min, IT 0–10\u00a0min"
    )
    assert "centre-x" in dict(form.fields["rules"].choices)


@pytest.fixture
def clinician(dataset: Dataset, db: None) -> Client:
    """A clinician of C01 (P1's centre) on the small dataset."""
    import_dataset(ADMIN, dataset)
    accounts.set_user(ADMIN, "dr.one", "clinician", "C01", PASSWORD)
    client = Client()
    assert client.login(username="dr.one", password=PASSWORD)
    return client


def plan_post(rules: str) -> dict[str, Any]:
    """POST data of the plan form for P1 (both lesions, IV, standard window)."""
    return {
        "plan-rules": rules,
        "plan-session_date": "2021-05-01",
        "plan-drug": "bleomycin",
        "plan-window": "standard",
        "plan-height_cm": "165",
        "plan-weight_kg": "63",
        "plan-creatinine_clearance_ml_min": "61.5",
        "plan-prior_bleomycin_iu": "25500",
        "plan-lesions": ["P1-L1", "P1-L2"],
    }


def test_the_plan_page_plans_with_a_centres_rule_set(clinician: Client, centre: RuleSet) -> None:
    response = clinician.post(reverse("session-plan", args=["P1"]), plan_post("centre-x"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "rule set centre-x" in text
    assert "based on esope-2006" in text
    assert re.search(r'id="plan-window">5–20\u00a0min after the end of the bolus', text)
    assert "6 × 120\u00a0µs, 1\u00a0Hz" in text  # P1-L1: linear needles, one train
    assert 'name="session-rule_set" value="centre-x"' in text
    assert '<option value="standard" selected>standard: IV 5–20\u00a0min, IT 0–10\u00a0min' in text
    shipped_plan = clinician.post(reverse("session-plan", args=["P1"]), plan_post("esope-2006"))
    assert "8 × 100\u00a0µs, 5\u202f000\u00a0Hz" in shipped_plan.content.decode()


def test_the_recording_page_follows_the_sessions_rule_set(
    clinician: Client, centre: RuleSet
) -> None:
    services.create(
        ADMIN,
        Session(
            session_id="P1-S2",
            patient_id="P1",
            session_date=dt.date(2021, 5, 1),
            session_number=2,
            drug="bleomycin",
            route="intravenous",
            height_cm=165,
            weight_kg=63,
            bolus_end_time=dt.time(10, 0),
            rule_set="centre-x",
        ),
    )
    text = clinician.get(reverse("session-record", args=["P1-S2"])).content.decode()
    assert 'data-window-start="5"' in text
    assert 'data-window-end="20"' in text
    assert "pulses from <strong>10:05:00</strong> to <strong>10:20:00</strong>" in text
    assert 'name="pulses" value="6"' in text
    assert 'name="frequency_hz" value="1"' in text
    assert 'name="pulse_duration_us" value="120"' in text
    assert "Rule pulses.train: 6 pulses of 120\u00a0µs at 1\u00a0Hz per train" in text
    assert "standard: 5–20\u00a0min (rule window.iv)" in text
    assert "pharmacokinetic by age (71 years): 8–40\u00a0min (rule window.iv_pk_over_65)" in text
    assert 'data-pulses="6"' in text  # the plan per lesion under the centre's rules
    # the same session under a shipped rule set: the shipped pulse train
    services.update(ADMIN, Session, "P1-S2", {"rule_set": "esope-2006"})
    shipped_text = clinician.get(reverse("session-record", args=["P1-S2"])).content.decode()
    assert 'name="pulses" value="8"' in shipped_text
    assert 'data-window-end="28"' in shipped_text
