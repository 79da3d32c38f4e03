"""``openect field simulate`` from the command line: JSON, probes, model files, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openect.cli import main
from openect.field.analytic import NeedlePair


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_needle_pair_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "field", "simulate", "--electrode", "needle-pair", "--sigma-model", "constant",
        "--sigma", "0.2", "--tumour-diameter-mm", "6", "--resolution-mm", "0.5",
        "--probe", "0,0,5", "--probe", "2,0,5", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    for key in ("electrode", "voltage_v", "pairs", "unknowns", "converged", "current_a",
                "coverage", "probes", "timing_s"):  # fmt: skip
        assert key in result
    assert result["electrode"] == "needle-pair"
    assert result["voltage_v"] == 400
    assert result["pairs"] == 1
    assert result["converged"] is True
    coverage = result["coverage"]
    assert 0 < coverage["tumour_fraction_above_rev"] <= 1
    assert coverage["tumour_fraction_above_irr"] <= coverage["tumour_fraction_above_rev"]
    assert coverage["healthy_volume_above_irr_mm3"] >= 0
    midpoint, needle = result["probes"]
    assert (midpoint["x_mm"], midpoint["y_mm"], midpoint["z_mm"]) == (0, 0, 5)
    # Needles 10 mm deep in a 30 mm block: mid-depth between them close to the 2-D value.
    two_d = NeedlePair(400, 4, 0.35).midpoint_field_v_per_cm
    assert midpoint["e_v_per_cm"] == pytest.approx(two_d, rel=0.1)
    assert needle["e_v_per_cm"] is None  # inside the positive needle


def test_model_file_and_human_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "model.yaml"
    model.write_text(
        "electrode:\n"
        "  needles: [{x_mm: -3, y_mm: 0, radius_mm: 0.3, depth_mm: 6},"
        " {x_mm: 3, y_mm: 0, radius_mm: 0.3, depth_mm: 6}]\n"
        "  pairs: [{positive: [1], negative: [0], voltage_v: 600}]\n"
        "tissue: skin-layered\nsigma_model: ramp\nresolution_mm: 0.6\n"
        "tumour: {diameter_mm: 5, depth_mm: 3}\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "field", "simulate", "--model", str(model))
    assert code == 0
    assert "custom (1 pair(s), 600\u00a0V)" in out
    assert "tumour above E_rev" in out


def test_figures_and_vtk_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import meshio

    png, curve, vtu = tmp_path / "slice.png", tmp_path / "curve.png", tmp_path / "field.vtu"
    code, out, _ = run(
        capsys,
        "field", "simulate", "--electrode", "needle-pair", "--tumour-diameter-mm", "5",
        "--resolution-mm", "0.7", "--png", str(png), "--curve-png", str(curve),
        "--vtk", str(vtu), "--json",
    )  # fmt: skip
    assert code == 0
    for path in (png, curve):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mesh = meshio.read(vtu)
    result = json.loads(out)
    assert len(mesh.points) == result["unknowns"]
    assert len(mesh.cell_data["E_max_V_per_cm"][0]) == result["elements"]
    assert set(mesh.cell_data) >= {"E_max_V_per_cm", "sigma_S_per_m", "tissue_label"}


def test_coverage_curve_needs_a_tumour(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "field", "simulate", "--curve-png", str(tmp_path / "c.png"))
    assert code == 2
    assert "--curve-png: needs a tumour" in err


def test_label_mask_tumour_from_a_model_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import numpy as np

    mask = np.zeros((12, 12, 8), dtype=bool)
    mask[3:9, 3:9, 1:7] = True  # a 6 x 6 x 6 voxel cube of 0.5 mm voxels = 27 mm3
    np.save(tmp_path / "tumour.npy", mask)
    model = tmp_path / "model.yaml"
    model.write_text(
        "electrode: needle-pair\nsigma_model: constant\nresolution_mm: 0.6\n"
        "tumour: {mask: tumour.npy, origin_mm: [-2.75, -2.75, 0.25], spacing_mm: [0.5, 0.5, 0.5]}\n"
    )
    code, out, _ = run(capsys, "field", "simulate", "--model", str(model), "--json")
    assert code == 0
    coverage = json.loads(out)["coverage"]
    assert coverage["tumour_volume_mm3"] == pytest.approx(27.0, rel=0.25)
    assert coverage["tumour_fraction_above_rev"] > 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text("tumour: {mask: missing.npy}\n")
    code, _, err = run(capsys, "field", "simulate", "--model", str(bad))
    assert code == 2
    assert "cannot read a .npy array" in err


def test_needles_outside_a_fixed_block(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("electrode: needle-pair\ngap_mm: 30\nblock_half_width_mm: 10\n")
    code, _, err = run(capsys, "field", "simulate", "--model", str(model))
    assert code == 2
    assert "conductor 0 at (-15, 0) mm, depth 10 mm: outside the block" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--electrode", "tripolar"], "electrode='tripolar': unknown; allowed: finger"),
        (["--electrode", "hexagonal", "--voltage", "1500"], "beyond the generator limit"),
        (["--electrode", "needle-pair", "--gap-mm", "90"], "unknowns, more than"),
        (["--tumour-diameter-mm", "10", "--tumour-depth-mm", "2"], "above the skin surface"),
        (["--resolution-mm", "0.01"], "resolution_mm=0.01"),
        (["--electrode", "hexagonal", "--resolution-mm", "0.03"], "unknowns, more than"),
        (["--tissue", "bone"], "tissue='bone': allowed: homogeneous, skin-layered"),
        (["--sigma-model", "cubic"], "sigma_model='cubic'"),
        (["--probe", "1,2"], "--probe='1,2': expected X,Y,Z"),
        (["--probe", "0,0,500"], "outside the block"),
        (["--model", "nope.yaml"], "cannot read"),
    ],
)
def test_bad_input_exit_2_before_heavy_work(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = run(capsys, "field", "simulate", *args)
    assert code == 2
    assert out == ""
    assert expected in err
    assert "Traceback" not in err


def test_catalogues_list_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "field", "electrodes", "--json")
    assert code == 0
    catalogue = json.loads(out)
    assert catalogue["generator"]["max_voltage_v"] == 1000
    assert catalogue["electrodes"]["hexagonal"]["spacing_mm"] == 7.3
    assert all(entry["source"] for entry in catalogue["electrodes"].values())
    code, out, _ = run(capsys, "field", "tissues", "--json")
    assert code == 0
    tissues = {entry["id"]: entry for entry in json.loads(out)["tissues"]}
    assert (tissues["tumour"]["sigma0"], tissues["tumour"]["e_rev"]) == (0.2, 400.0)
    assert tissues["tumour"]["status"] == "verified"
    code, out, _ = run(capsys, "field", "electrodes")
    assert code == 0
    assert "Generator limit: 1\u202f000\u00a0V" in out
