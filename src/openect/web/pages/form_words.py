"""The record forms in clinical words: labels, help texts and choice words.

The data model names its columns for files and code (``ecog``, ``eq_vas``,
``longest_diameter_mm``); the forms show the words a clinician uses ("ECOG performance
status (0-4)", "EQ VAS (0-100)", "Longest diameter (mm)"). This module holds those words
for the web pages only: the model, the CSV columns and the API keep their names.
:func:`openect.web.pages.forms.record_form_class` applies them to every record form.

A column without an entry here keeps the label made from its name
(:func:`openect.web.pages.forms.form_field`); a help text here replaces the model's
description, None keeps it.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Words(NamedTuple):
    """A column's label and, when not None, its help text."""

    label: str
    help: str | None = None


#: (table, column) -> words. Ranges and units in the label are the data model's bounds.
LABELS: Final[dict[tuple[str, str], Words]] = {
    # patients
    ("patients", "patient_id"): Words("Patient ID"),
    ("patients", "centre_id"): Words("Centre"),
    ("patients", "birth_year"): Words("Year of birth", ""),
    ("patients", "stage"): Words("AJCC stage group (8th edition)", "At first ECT"),
    ("patients", "braf_status"): Words("BRAF status"),
    ("patients", "ecog"): Words("ECOG performance status (0-4)", "At first ECT"),
    ("patients", "visceral_metastases"): Words("Visceral metastases", "At first ECT"),
    ("patients", "last_contact_date"): Words("Date of last contact"),
    ("patients", "death_date"): Words("Date of death", "Empty while the patient is alive"),
    ("patients", "death_cause"): Words("Cause of death", "Empty while the patient is alive"),
    ("patients", "dlco_percent_predicted"): Words("DLCO (% of predicted)"),
    ("patients", "patient_number"): Words("Number within the centre"),
    # lesions
    ("lesions", "lesion_id"): Words("Lesion ID"),
    ("lesions", "patient_id"): Words("Patient"),
    ("lesions", "layer"): Words("Layer", "Cutaneous or subcutaneous"),
    ("lesions", "location_detail"): Words("Location within the body site"),
    ("lesions", "baseline_date"): Words("Date of the baseline measurement"),
    ("lesions", "longest_diameter_mm"): Words("Longest diameter (mm)"),
    ("lesions", "perpendicular_diameter_mm"): Words("Perpendicular diameter (mm)"),
    ("lesions", "thickness_mm"): Words("Thickness (mm)"),
    ("lesions", "previously_irradiated"): Words("Previously irradiated"),
    ("lesions", "symptoms"): Words("Symptoms at baseline", ""),
    # sessions
    ("sessions", "session_id"): Words("Session ID"),
    ("sessions", "patient_id"): Words("Patient"),
    ("sessions", "session_date"): Words("Date of the session"),
    ("sessions", "route"): Words("Route of administration"),
    ("sessions", "bsa_m2"): Words("Body-surface area (m²)", ""),
    ("sessions", "bolus_end_time"): Words("End of the bolus or injection (time of day)"),
    ("sessions", "rule_set"): Words("Protocol rule set"),
    ("sessions", "operator"): Words("Operator code"),
    ("sessions", "pain_during_nrs"): Words("Worst pain during the procedure (NRS 0-10)"),
    ("sessions", "pain_after_nrs"): Words("Worst pain after the procedure (NRS 0-10)"),
    # applications
    ("applications", "application_id"): Words("Application ID"),
    ("applications", "session_id"): Words("Session"),
    ("applications", "lesion_id"): Words("Lesion"),
    ("applications", "time"): Words("Time of the pulses"),
    ("applications", "injection_end_time"): Words("End of the injection into this lesion"),
    ("applications", "pulses"): Words("Number of pulses"),
    ("applications", "frequency_hz"): Words("Pulse repetition frequency (Hz)", ""),
    ("applications", "current_a"): Words("Peak current (A)"),
    ("applications", "complete"): Words("Train complete"),
    # assessments
    ("assessments", "assessment_id"): Words("Assessment ID"),
    ("assessments", "lesion_id"): Words("Lesion"),
    ("assessments", "assessment_date"): Words("Date of the assessment"),
    ("assessments", "longest_diameter_mm"): Words("Longest diameter (mm)"),
    ("assessments", "perpendicular_diameter_mm"): Words("Perpendicular diameter (mm)"),
    ("assessments", "method"): Words("Method of measurement"),
    ("assessments", "assessor"): Words("Assessor code"),
    ("assessments", "override_response"): Words("Response category (override)"),
    ("assessments", "override_reason"): Words("Reason for the override"),
    ("assessments", "note"): Words("Clinical note"),
    ("assessments", "new_lesion_in_field"): Words("New lesion in the treated field"),
    # adverse events
    ("adverse_events", "event_id"): Words("Event ID"),
    ("adverse_events", "patient_id"): Words("Patient"),
    ("adverse_events", "session_id"): Words("Session"),
    ("adverse_events", "onset_date"): Words("Date of onset"),
    ("adverse_events", "term"): Words(
        "Adverse event (CTCAE v5.0 term)",
        "Terms relevant to ECT and bleomycin, by system organ class; any other event: "
        "'Other, specify', then the event in words",
    ),
    ("adverse_events", "grade"): Words(
        "CTCAE grade",
        "1 mild, 2 moderate, 3 severe or medically significant, 4 life-threatening, "
        "5 death related to the adverse event",
    ),
    ("adverse_events", "serious"): Words("Serious adverse event"),
    # patient-reported outcomes
    ("patient_reported", "report_id"): Words("Report ID"),
    ("patient_reported", "patient_id"): Words("Patient"),
    ("patient_reported", "report_date"): Words("Date of the questionnaire"),
    ("patient_reported", "pain_nrs"): Words(
        "Pain (NRS 0-10)", "Numeric rating scale: 0 = no pain, 10 = worst imaginable pain"
    ),
    ("patient_reported", "eq_vas"): Words(
        "EQ VAS (0-100)",
        "The patient's rating of their health today on the EQ visual analogue scale: "
        "0 = worst, 100 = best imaginable health state",
    ),
    # systemic therapies
    ("systemic_therapies", "therapy_id"): Words("Therapy ID"),
    ("systemic_therapies", "patient_id"): Words("Patient"),
    ("systemic_therapies", "agent_class"): Words("Class of agent"),
    ("systemic_therapies", "agent"): Words("Agent", "Drug name, e.g. pembrolizumab"),
    ("systemic_therapies", "end_date"): Words("End date", "Empty while ongoing"),
}

#: (enum class name, value) -> the choice in words, where the value's own words are
#: not what a clinician reads (``scc_skin``, ``anti_pd1``).
CHOICE_WORDS: Final[dict[tuple[str, str], str]] = {
    ("Sex", "F"): "F (female)",
    ("Sex", "M"): "M (male)",
    ("PrimaryTumour", "scc_skin"): "cutaneous squamous cell carcinoma",
    ("PrimaryTumour", "bcc"): "basal cell carcinoma",
    ("PrimaryTumour", "kaposi"): "Kaposi sarcoma",
    ("PrimaryTumour", "breast"): "breast cancer",
    ("BrafStatus", "wildtype"): "wild type",
    ("Anaesthesia", "local_sedation"): "local with sedation",
    ("Analgesia", "paracetamol_nsaid"): "paracetamol or NSAID",
    ("AgentClass", "anti_pd1"): "anti-PD-1",
    ("AgentClass", "anti_ctla4"): "anti-CTLA-4",
    ("AgentClass", "anti_pd1_ctla4"): "anti-PD-1 + anti-CTLA-4",
    ("AgentClass", "braf_mek"): "BRAF + MEK inhibitors",
    ("AgentClass", "ect_elsewhere"): "ECT at another centre",
    ("ResponseCategory", "CR"): "CR (complete response)",
    ("ResponseCategory", "PR"): "PR (partial response)",
    ("ResponseCategory", "SD"): "SD (stable disease)",
    ("ResponseCategory", "PD"): "PD (progressive disease)",
}


def words_of(table: str, column: str) -> Words | None:
    """The clinical words of ``column`` of ``table``, or None (the name's words apply)."""
    return LABELS.get((table, column))


def choice_words(enum_name: str, value: str) -> str:
    """A choice in words: :data:`CHOICE_WORDS`, else the value with spaces for ``_``."""
    return CHOICE_WORDS.get((enum_name, value), value.replace("_", " "))
