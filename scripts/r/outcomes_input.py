"""Write the analysis tables that scripts/r/outcomes_reference.R reads (R reference input).

Run from the repository root: ``.venv/bin/python scripts/r/outcomes_input.py``. The
tables come from a small synthetic cohort (300 patients, 4 centres, seed 11) through the
same code as ``openect analyse``; the committed CSVs are the input of both the R script
and the tests, so that the tests do not depend on the generator staying the same.
"""

from __future__ import annotations

from pathlib import Path

from openect.synth import generate_cohort
from openect.outcomes.tables import lesion_table, patient_table
from openect.response import ResponseEvaluation

FIXTURES = Path("tests/fixtures/r")
LESION_COLUMNS = [
    "lesion_id",
    "patient_id",
    "longest_diameter_mm",
    "layer",
    "large",
    "ulcerated",
    "previously_irradiated",
    "concurrent_immunotherapy",
    "landmark_response",
    "cr",
    "objective",
    "control_days",
    "progression",
]
PATIENT_COLUMNS = ["patient_id", "response", "os_days", "death", "concurrent_immunotherapy"]


def main() -> None:
    dataset = generate_cohort(300, centres=4, seed=11)
    evaluation = ResponseEvaluation().fit(dataset)
    lesions = lesion_table(dataset, evaluation)[LESION_COLUMNS]
    patients = patient_table(dataset, evaluation)[PATIENT_COLUMNS]
    FIXTURES.mkdir(parents=True, exist_ok=True)
    lesions.to_csv(FIXTURES / "outcomes_lesions.csv", index=False, lineterminator="\n")
    patients.to_csv(FIXTURES / "outcomes_patients.csv", index=False, lineterminator="\n")
    print(f"{len(lesions)} lesions, {len(patients)} patients -> {FIXTURES}")


if __name__ == "__main__":
    main()
