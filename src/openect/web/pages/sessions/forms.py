"""The forms of the session pages.

:class:`PlanForm` is built from the planner's own models (:mod:`openect.protocol.inputs`:
:class:`PatientToPlan`, :class:`PlanOptions`, :class:`Contraindications`) with
:func:`openect.web.pages.forms.model_field`: bounds, labels, choices and defaults are the
models', and the window choices are worded from the rule set in force. The recording
forms are those of the data model (:func:`record_form_class`), prefilled with the pulse
train of the session's rule set (:func:`openect.protocol.recording.pulse_train`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone

from openect.data.models import Application, Lesion, Patient, Session
from openect.formatting import number, words
from openect.protocol.electrodes import Electrode
from openect.protocol.inputs import (
    Contraindications,
    PatientToPlan,
    PlanOptions,
    SessionRequest,
    session_request,
)
from openect.protocol.recording import PulseTrain, window_choices
from openect.protocol.rules import DEFAULT_RULE_SET, RuleSet
from openect.protocol.session_plan import LesionPlan
from openect.web.pages.forms import (
    ISO_DATE,
    flag_choices,
    model_field,
    model_values,
    record_form_class,
)

#: Choice of an option left to the rule set.
AS_RULES = "as the rule set says"
#: The sources of renal function, of which the planner takes at most one.
RENAL = ("creatinine_mg_dl", "creatinine_umol_l", "creatinine_clearance_ml_min")


def lesion_choices(lesions: Iterable[Lesion]) -> list[tuple[str, str]]:
    """``(lesion_id, "L1 · trunk anterior · 18 mm")`` for each lesion: the lesion's id
    without its patient's in front (a pseudonym is long), its site and size."""
    return [
        (
            lesion.lesion_id,
            f"{lesion.lesion_id.removeprefix(lesion.patient_id + '-')} · "
            f"{words(lesion.body_site)} · {number(lesion.longest_diameter_mm, 'mm')}",
        )
        for lesion in lesions
    ]


# ----------------------------------------------------------------------------- planning
class PlanForm(forms.Form):
    """The planner's options and the patient's measurements of the day; sex, year of
    birth and lesions come from the registry. Fields, bounds and defaults are those of
    :class:`PatientToPlan` and :class:`PlanOptions`; the window choices say the windows of
    the rule set in force (:attr:`rule_set`)."""

    rules = forms.ChoiceField(
        label="Rule set",
        help_text="Protocol rules behind every number",
        initial=PlanOptions.model_fields["rules"].default,
    )
    session_date = model_field(
        PatientToPlan, "session_date", required=True, label="Planned session date"
    )
    drug = model_field(PlanOptions, "drug")
    route = model_field(
        PlanOptions,
        "route",
        empty_label="as suggested by the rules",
        help_text="IV for many or large lesions, IT for few small ones (rule route.choice)",
    )
    iv_policy = model_field(
        PlanOptions,
        "iv_policy",
        empty_label=AS_RULES,
        help_text="none: full dose; age_label: age and the label's renal table, the lowest "
        "dose wins; label_renal: renal table only; age_renal: the InspECT series' renal doses",
    )
    it_policy = model_field(
        PlanOptions,
        "it_policy",
        empty_label=AS_RULES,
        help_text="step: by tumour volume; flat: a dose per cm³ of tumour",
    )
    window = model_field(PlanOptions, "window")
    bsa_formula = model_field(PlanOptions, "bsa_formula", empty_label=AS_RULES)
    birth_date = model_field(
        PatientToPlan,
        "birth_date",
        label="Date of birth",
        help_text="Optional, for the exact age at the session (the registry keeps the year "
        "of birth only; this date is not stored)",
    )
    height_cm = model_field(PatientToPlan, "height_cm")
    weight_kg = model_field(PatientToPlan, "weight_kg")
    creatinine_mg_dl = model_field(
        PatientToPlan,
        "creatinine_mg_dl",
        help_text="Give at most one of serum creatinine (mg/dL or µmol/L) or clearance",
    )
    creatinine_umol_l = model_field(PatientToPlan, "creatinine_umol_l")
    creatinine_clearance_ml_min = model_field(
        PatientToPlan,
        "creatinine_clearance_ml_min",
        help_text="Measured, or estimated (Cockcroft-Gault is computed from serum creatinine)",
    )
    dialysis = model_field(PatientToPlan, "dialysis")
    dlco_percent_predicted = model_field(
        PatientToPlan,
        "dlco_percent_predicted",
        label="DLCO (% of predicted)",
        help_text="Lung diffusing capacity before intravenous bleomycin",
    )
    dlco_date = model_field(PatientToPlan, "dlco_date", label="DLCO measured on")
    chest_imaging_date = model_field(
        PatientToPlan, "chest_imaging_date", label="Last chest X-ray or CT on"
    )
    prior_bleomycin_iu = model_field(
        PatientToPlan,
        "prior_bleomycin_iu",
        required=True,  # never assumed 0: the page fills it in from the registry
        help_text="Prefilled with the bleomycin of the patient's sessions in the registry and "
        "of their other therapies (chemotherapy, ECT elsewhere)",
    )
    contraindications = forms.MultipleChoiceField(
        label="Contraindications and cautions present",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=flag_choices(Contraindications),
    )
    lesions = forms.MultipleChoiceField(
        label="Lesions to treat", widget=forms.CheckboxSelectMultiple
    )
    minutes_per_application = model_field(PlanOptions, "minutes_per_application")
    margin_mm = model_field(PlanOptions, "margin_mm")
    specialist_override = model_field(
        PlanOptions,
        "specialist_override",
        label="Specialist's decision",
        help_text="Only to treat past a stop that allows it (pregnancy, renal function below "
        "the stop or dialysis): who decided and why. Kept in the audit trail with the session.",
    )

    def __init__(
        self,
        *args: Any,
        lesions: Iterable[Lesion],
        rule_sets: Mapping[str, RuleSet],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rules"].choices = [(r, r) for r in rule_sets]
        self.fields["lesions"].choices = lesion_choices(lesions)
        chosen = self.data.get(self.add_prefix("rules")) if self.is_bound else None
        chosen = chosen or self.initial.get("rules") or DEFAULT_RULE_SET
        #: The rule set the form's window choices are worded from.
        self.rule_set: RuleSet = rule_sets.get(chosen) or next(iter(rule_sets.values()))
        self.fields["window"].choices = [
            (variant.value, text) for variant, text in window_choices(self.rule_set)
        ]

    def request_for(
        self,
        patient: Patient,
        lesions: Iterable[Lesion],
        history: Mapping[str, tuple[dt.date, int]] | None = None,
    ) -> SessionRequest:
        """The planner's request of this valid form for ``patient`` and the chosen
        ``lesions`` (``history``: each treated lesion's last session date and sessions
        so far); pydantic's ``ValidationError`` when the models refuse a value."""
        data = self.cleaned_data
        chosen = set(data["lesions"])
        flags = set(data.get("contraindications") or [])
        measured = model_values(self, PatientToPlan)
        measured.pop("contraindications", None)
        return session_request(
            patient,
            [lesion for lesion in lesions if lesion.lesion_id in chosen],
            contraindications=Contraindications(
                **{name: name in flags for name in Contraindications.model_fields}
            ),
            options=PlanOptions.model_validate(model_values(self, PlanOptions)),
            history=history,
            **measured,
        )


def as_query(values: Mapping[str, Any], prefix: str) -> QueryDict:
    """Form data (as a browser would send it) of ``values`` for a form with ``prefix``."""
    data = QueryDict(mutable=True)
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, list):
            data.setlist(f"{prefix}-{name}", [str(v) for v in value])
        else:
            data[f"{prefix}-{name}"] = (
                value.isoformat() if isinstance(value, dt.date) else str(value)
            )
    return data


def session_form_class() -> type[forms.Form]:
    """The Session form (patient fixed by the page, rule set carried from the plan)."""
    return record_form_class(Session, exclude=("patient_id",), hidden=("rule_set",))


def session_form(data: QueryDict | None, initial: Mapping[str, Any]) -> forms.Form:
    """The Session form (prefix ``session``) with clock times to the second and dates as
    ``<input type="date">`` needs them."""
    form_class = session_form_class()
    form = form_class(data, prefix="session", initial=dict(initial))
    form.fields["bolus_end_time"].widget.attrs.update({"step": "1"})
    for form_field in form.fields.values():
        if isinstance(form_field.widget, forms.DateInput):
            form_field.widget.format = ISO_DATE
    return form


# ----------------------------------------------------------------------------- recording
class BolusForm(forms.Form):
    """The end of the IV bolus (or IT injection), as a clock time."""

    bolus_end_time = forms.TimeField(
        label="End of the bolus (clock time)",
        widget=forms.TimeInput(attrs={"type": "time", "step": "1"}),
    )
    reason = forms.CharField(
        label="Reason for the change",
        required=False,
        max_length=500,
        help_text="Applications are recorded against the bolus end: changing it re-checks "
        "each one against the window. Say why (kept in the session's history).",
    )

    #: Shortest reason accepted for changing the bolus end after applications.
    MIN_REASON = 5

    def check_change(self, current: dt.time | None, applications: int) -> bool:
        """After ``is_valid``: False (with an error on ``reason``) when the bolus end
        changes under ``applications`` recorded ones without a reason."""
        new = self.cleaned_data["bolus_end_time"]
        if applications == 0 or current is None or new == current:
            return True
        reason = self.cleaned_data.get("reason", "").strip()
        if len(reason) < self.MIN_REASON:
            self.add_error(
                "reason",
                f"{applications} application(s) are recorded against the bolus end "
                f"{current.isoformat()}: give the reason for changing it to "
                f"{new.isoformat()} (at least {self.MIN_REASON} characters)",
            )
            return False
        return True


def application_form_class(lesions: Iterable[Lesion]) -> type[forms.Form]:
    """The Application form: lesion among the patient's lesions, electrode from the catalogue."""
    base = record_form_class(Application, exclude=("application_id", "session_id"))
    lesion_field = forms.ChoiceField(label="Lesion", choices=[("", "—"), *lesion_choices(lesions)])
    return type("ApplicationEntryForm", (base,), {"lesion_id": lesion_field})


#: A device code as the data model takes it after the electrode kind ("linear:N-10-4B").
DEVICE_CODE = r"^[A-Za-z0-9._-]+$"


def split_electrode(value: str) -> tuple[str, str]:
    """``"linear:N-10-4B"`` -> ``("linear", "N-10-4B")``; no code -> ``("linear", "")``."""
    kind, _, code = value.partition(":")
    return kind, code


def application_form(
    form_class: type[forms.Form],
    train: PulseTrain,
    data: QueryDict | None = None,
    planned: Mapping[str, LesionPlan] | None = None,
    last: Application | None = None,
    injections: Mapping[str, dt.time] | None = None,
) -> forms.Form:
    """An application form prefilled with the rule set's pulse ``train`` and the time
    now (until edited, in the browser); the lesion choice carries the planned settings.
    After an application (``last``), its lesion and settings stay selected. The electrode
    is a choice from the catalogue, the device code an optional second field.

    ``injections`` (None: not an intratumoural session, no such field) are the lesions'
    injection end times recorded so far: the field starts with the last lesion's."""
    initial: dict[str, Any] = {
        "time": timezone.localtime().time().replace(microsecond=0),
        "pulses": train.pulses,
        "frequency_hz": _plain(train.frequency_hz),
        "pulse_duration_us": _plain(train.pulse_duration_us),
        "complete": "true",
    }
    if last is not None:
        kind, code = split_electrode(last.electrode)
        initial |= {
            "lesion_id": last.lesion_id,
            "electrode": kind,
            "device_code": code,
            "voltage_v": None if last.voltage_v is None else _plain(last.voltage_v),
            "pulses": last.pulses or train.pulses,
            "frequency_hz": _plain(last.frequency_hz or train.frequency_hz),
            "pulse_duration_us": _plain(last.pulse_duration_us or train.pulse_duration_us),
        }
    form = form_class(data, initial=initial)
    kinds = [electrode.value for electrode in Electrode]
    form.fields["electrode"] = forms.ChoiceField(
        label="Electrode",
        choices=[("", "—"), *((kind, kind) for kind in kinds)],
        help_text="From the electrode catalogue",
    )
    form.fields["device_code"] = forms.RegexField(
        regex=DEVICE_CODE,
        required=False,
        max_length=40,
        label="Device code (optional)",
        help_text="The electrode's code on its package, e.g. N-10-4B",
        error_messages={"invalid": "letters, digits, '.', '_' and '-' only"},
    )
    order = list(form.fields)
    order.remove("device_code")
    order.insert(order.index("electrode") + 1, "device_code")
    form.order_fields(order)
    form.fields["pulses"].help_text = (
        f"Rule {train.rule_id}: {train.pulses} pulses of {number(train.pulse_duration_us, 'µs')} "
        f"at {number(train.frequency_hz, 'Hz')} per train"
    )
    form.fields["time"].widget.attrs.update({"step": "1"})
    if data is None:
        form.fields["time"].widget.attrs["data-default-now"] = "1"
    form.fields["time"].help_text = "Clock time the pulses were delivered (default: now)"
    if injections is None:
        del form.fields["injection_end_time"]
    else:
        field = form.fields["injection_end_time"]
        field.label = "Injection into this lesion ended"
        field.help_text = (
            "Intratumoural: the clock time the injection into this lesion ended; its "
            "pulse window runs from it (empty: from the session's injection end)"
        )
        field.widget.attrs.update({"step": "1"})
        if last is not None and last.lesion_id in injections:
            form.initial["injection_end_time"] = injections[last.lesion_id]
    form.fields["lesion_id"].widget.attrs.update({"data-suggest": "1"})
    if planned:
        form.fields["lesion_id"].widget = LesionSelect(
            planned, choices=form.fields["lesion_id"].choices, attrs={"data-suggest": "1"}
        )
    return form


def _plain(value: float) -> float | int:
    """A whole number as an int (shown ``5000``, not ``5000.0``)."""
    return int(value) if float(value).is_integer() else value


class LesionSelect(forms.Select):
    """A select whose options carry the planned electrode settings as data attributes."""

    def __init__(self, planned: Mapping[str, LesionPlan], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned = planned

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The option with ``data-electrode``, ``data-voltage``, ... of its lesion's plan."""
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        plan = self.planned.get(str(option["value"]))
        if plan is not None:
            option["attrs"].update(
                {
                    "data-electrode": plan.electrode,
                    "data-voltage": f"{plan.voltage_v:g}",
                    "data-pulses": str(plan.pulses),
                    "data-frequency": f"{plan.frequency_hz:g}",
                    "data-duration": f"{plan.pulse_duration_us:g}",
                    "data-summary": planned_summary(plan),
                }
            )
        return option


def planned_summary(plan: LesionPlan) -> str:
    """``Planned: linear, needles 20 mm, 400 V, 8 × 100 µs at 5000 Hz, about 2
    application(s)``."""
    needle = f", needles {number(plan.needle_length_mm, 'mm')}" if plan.needle_length_mm else ""
    return (
        f"Planned: {plan.electrode}{needle}, {number(plan.voltage_v, 'V')}, {plan.pulses} × "
        f"{number(plan.pulse_duration_us, 'µs')} at {number(plan.frequency_hz, 'Hz')}, "
        f"about {plan.applications} application(s)"
    )


def error_summary(*bound: forms.Form | None) -> list[tuple[str, str, str]]:
    """(field id, label, message) of every error of the bound forms, for the summary at
    the top of the page; an error of the whole form has an empty field id."""
    out: list[tuple[str, str, str]] = []
    for form in bound:
        if form is None or not form.is_bound or not form.errors:
            continue
        for name, errors in form.errors.items():
            field = form.fields.get(name)
            if field is None:
                out.extend(("", "", str(e)) for e in errors)
                continue
            label = str(field.label or name)
            out.extend((form[name].auto_id, label, str(e)) for e in errors)
    return out
