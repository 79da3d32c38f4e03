"""The linear algebra of the field engine against independent constructions: the
reduced system of a pair against P^T K P formed with sparse matrices, the AMG-CG
solution against a direct solve, |E| from element edges against the gradients, and
the mesh's node count against the nodes its tetrahedra use."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import scipy.sparse as sp
from pyamg.aggregation.aggregate import standard_aggregation
from pyamg.aggregation.smooth import jacobi_prolongation_smoother
from pyamg.aggregation.tentative import fit_candidates
from pyamg.strength import classical_strength_of_connection
from scipy.sparse.linalg import cg, spsolve

from openect.field import threads
from openect.field.amg import (
    THETA,
    Hierarchy,
    smoothed_prolongator,
    strong_couplings,
    tentative_prolongator,
)
from openect.field.electrodes import Pair
from openect.field.fem import P1Geometry, P1Space, edge_pattern
from openect.field.mesh import Mesh, build_mesh
from openect.field.model_file import build_model
from openect.field.solver import PairSystem
from openect.field.threads import RowBlocks


@pytest.fixture(scope="module")
def hexagon() -> tuple[Mesh, P1Space, tuple[Pair, ...]]:
    model = build_model(
        {"electrode": "hexagonal", "tissue": "skin-layered", "tumour": {"diameter_mm": 6}}
    )
    mesh = build_mesh(model, 1.2)
    space = mesh.space()
    return mesh, space, model.electrode.pairs


def reference_system(
    space: P1Space, mesh: Mesh, pair: Pair, sigma: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """P^T K P and -P^T K phi_fixed with an explicit prolongation P: free nodes one
    unknown each, each floating conductor one shared unknown, fixed nodes none."""
    n = space.n
    fixed_value = np.zeros(n)
    fixed = np.zeros(n, dtype=bool)
    for index, sign in [(i, 1) for i in pair.positive] + [(i, -1) for i in pair.negative]:
        fixed[mesh.conductor_nodes[index]] = True
        fixed_value[mesh.conductor_nodes[index]] = sign * pair.voltage_v / 2
    floating = [
        k for k in range(len(mesh.conductor_nodes)) if k not in pair.positive + pair.negative
    ]
    column = np.full(n, -1)
    free = ~fixed
    for k in floating:
        free[mesh.conductor_nodes[k]] = False
    column[free] = np.arange(free.sum())
    for j, k in enumerate(floating):
        column[mesh.conductor_nodes[k]] = free.sum() + j
    rows = np.nonzero(column >= 0)[0]
    p = sp.csr_matrix(
        (np.ones(len(rows)), (rows, column[rows])), shape=(n, free.sum() + len(floating))
    )
    k_matrix = space.stiffness(sigma)
    return (p.T @ k_matrix @ p).tocsr(), -(p.T @ (k_matrix @ fixed_value)), fixed_value


@pytest.mark.slow
def test_reduced_system_equals_the_explicit_projection(
    hexagon: tuple[Mesh, P1Space, tuple[Pair, ...]],
) -> None:
    mesh, space, pairs = hexagon
    rng = np.random.default_rng(3)
    sigma = rng.uniform(0.1, 1.0, len(mesh.tets))
    values = space.edge_values(sigma)
    for pair in (pairs[0], pairs[-1]):  # five floating needles each
        system = PairSystem(space, mesh.conductor_nodes, pair)
        a, rhs = system.reduce(values)
        a_ref, rhs_ref, fixed_value = reference_system(space, mesh, pair, sigma)
        assert a.shape == a_ref.shape
        assert abs(a - a_ref).max() < 1e-12 * abs(a_ref).max()
        np.testing.assert_allclose(rhs, rhs_ref, rtol=0, atol=1e-12 * abs(rhs_ref).max())
        # Currents: the flux K phi summed on the conductor's nodes.
        potential = system.expand(spsolve(a_ref.tocsc(), rhs_ref))
        flux = space.stiffness(sigma) @ potential
        positive = np.concatenate([mesh.conductor_nodes[i] for i in pair.positive])
        assert system.current_a(values, potential) == pytest.approx(flux[positive].sum() * 1e-3)
        # Every floating conductor takes one potential; fixed nodes keep theirs.
        assert np.array_equal(potential[system.fixed], fixed_value[system.fixed])


@pytest.mark.slow
def test_amg_preconditioned_cg_matches_a_direct_solve(
    hexagon: tuple[Mesh, P1Space, tuple[Pair, ...]],
) -> None:
    mesh, space, pairs = hexagon
    sigma = np.where(mesh.labels == 0, 0.1, 0.5)
    system = PairSystem(space, mesh.conductor_nodes, pairs[0])
    a, rhs = system.reduce(space.edge_values(sigma))
    hierarchy = Hierarchy(a)
    assert len(hierarchy.levels) >= 2
    assert 1.0 < hierarchy.operator_complexity < 2.5
    iterations: list[int] = []
    x, info = cg(
        a, rhs, rtol=1e-10, atol=0.0, M=hierarchy.preconditioner(),
        callback=lambda _: iterations.append(1),
    )  # fmt: skip
    assert info == 0
    direct = spsolve(a.tocsc(), rhs)
    np.testing.assert_allclose(x, direct, rtol=0, atol=1e-7 * abs(direct).max())
    # Without the preconditioner CG needs many times more iterations.
    plain: list[int] = []
    cg(a, rhs, rtol=1e-10, atol=0.0, maxiter=5000, callback=lambda _: plain.append(1))
    assert len(iterations) * 5 < len(plain)


def test_prolongator_equals_pyamgs_filtered_jacobi_smoothing() -> None:
    """The CSR coarsening (strong couplings, tentative and smoothed prolongators)
    gives pyamg's own classical strength, fit_candidates and filtered Jacobi smoother
    with local weighting, on a system with eliminated (identity) rows."""
    model = build_model({"electrode": "linear", "tissue": "skin-layered"})
    mesh = build_mesh(model, 1.0)
    space = mesh.space()
    sigma = np.random.default_rng(2).uniform(0.1, 1.0, len(mesh.tets))
    system = PairSystem(space, mesh.conductor_nodes, model.electrode.pairs[0])
    a, _ = system.reduce(space.edge_values(sigma))
    strong = strong_couplings(a)
    reference_strength = classical_strength_of_connection(a, theta=THETA)
    assert np.array_equal(strong.indptr, reference_strength.indptr)
    assert np.array_equal(strong.indices, reference_strength.indices)
    aggregates_matrix, _ = standard_aggregation(reference_strength)
    b = np.random.default_rng(4).uniform(0.5, 2.0, a.shape[0])
    aggregates = np.full(a.shape[0], -1, dtype=np.int32)
    rows = np.repeat(np.arange(a.shape[0]), np.diff(aggregates_matrix.indptr))
    aggregates[rows] = aggregates_matrix.indices
    assert (aggregates == -1).any()  # the eliminated nodes are in no aggregate
    tentative, coarse_b = tentative_prolongator(aggregates, aggregates_matrix.shape[1], b)
    reference_tentative, reference_b = fit_candidates(aggregates_matrix, b[:, None])
    assert abs(tentative - sp.csr_matrix(reference_tentative)).max() < 1e-14
    np.testing.assert_allclose(coarse_b, reference_b.ravel(), rtol=1e-14)
    smoothed = smoothed_prolongator(strong, tentative, coarse_b)
    reference = sp.csr_matrix(
        jacobi_prolongation_smoother(
            a, reference_tentative, reference_strength, reference_b,
            filter_entries=True, weighting="local",
        )
    )  # fmt: skip
    assert abs(smoothed - reference).max() < 1e-13
    # The smoothed prolongator still reproduces the candidate.
    np.testing.assert_allclose(smoothed @ coarse_b, np.where(aggregates >= 0, b, 0), atol=1e-12)


def test_field_magnitude_from_edges_equals_the_gradient_field(
    hexagon: tuple[Mesh, P1Space, tuple[Pair, ...]],
) -> None:
    mesh, space, _ = hexagon
    potential = np.random.default_rng(5).uniform(-300, 300, space.n)
    from_gradients = np.linalg.norm(space.field(potential), axis=1)
    np.testing.assert_allclose(space.field_magnitude(potential), from_gradients, rtol=1e-9)
    # The extruded mesh's gradients, made on demand, equal those of the general formula.
    general = P1Geometry.of(mesh.points, mesh.tets)
    cells = np.array([0, len(mesh.tets) // 2, len(mesh.tets) - 1])
    np.testing.assert_allclose(
        mesh.geometry.gradients_at(cells), general.gradients[cells], atol=1e-12
    )
    np.testing.assert_allclose(mesh.geometry.edge_weights, general.edge_weights, atol=1e-12)


def test_unknowns_count_the_nodes_of_the_tetrahedra(
    hexagon: tuple[Mesh, P1Space, tuple[Pair, ...]],
) -> None:
    mesh, _, _ = hexagon
    used = np.zeros(len(mesh.points), dtype=bool)
    used[mesh.tets.ravel()] = True
    assert not used.all()  # the needles' interiors above their tips
    assert mesh.unknowns == used.sum()


def test_unknowns_with_needles_through_the_whole_block() -> None:
    from openect.field.conductivity import SigmaModel
    from openect.field.electrodes import ElectrodeGeometry, needle_pair
    from openect.field.geometry import FieldModel, homogeneous

    conductors, pairs = needle_pair(4.0, 0.35, 10.0, 400.0)
    model = FieldModel(
        ElectrodeGeometry("pair", conductors, pairs), homogeneous(sigma0=0.2), None,
        SigmaModel.CONSTANT, half_width_mm=20.0, depth_mm=10.0,
    )  # fmt: skip
    mesh = build_mesh(model, 0.8)
    used = np.zeros(len(mesh.points), dtype=bool)
    used[mesh.tets.ravel()] = True
    assert not used.all()
    assert mesh.unknowns == used.sum()


@pytest.mark.slow
def test_fixed_nodes_eliminated_in_place_without_floating_conductors() -> None:
    model = build_model({"electrode": "linear", "tissue": "skin-layered"})
    mesh = build_mesh(model, 1.0)
    space = mesh.space()
    pair = model.electrode.pairs[0]
    sigma = np.random.default_rng(7).uniform(0.1, 1.0, len(mesh.tets))
    values = space.edge_values(sigma)
    system = PairSystem(space, mesh.conductor_nodes, pair)
    assert system.eliminated  # every needle of the linear array is in the pair
    a, rhs = system.reduce(values)
    a_ref, rhs_ref, fixed_value = reference_system(space, mesh, pair, sigma)
    free = np.flatnonzero(~system.fixed)
    fixed = np.flatnonzero(system.fixed)
    # The free block is P^T K P; fixed rows and columns are those of the identity.
    assert abs(a[free][:, free] - a_ref).max() < 1e-12 * abs(a_ref).max()
    assert abs(a[fixed][:, fixed] - sp.identity(len(fixed))).max() == 0
    assert abs(a[free][:, fixed]).max() == 0
    assert abs(a[fixed][:, free]).max() == 0
    np.testing.assert_allclose(rhs[free], rhs_ref, rtol=0, atol=1e-12 * abs(rhs_ref).max())
    np.testing.assert_array_equal(rhs[fixed], fixed_value[fixed])
    potential, _ = system.solve(values, None, rtol=1e-10)
    reference = np.zeros(space.n)
    reference[free] = spsolve(a_ref.tocsc(), rhs_ref)
    reference[fixed] = fixed_value[fixed]
    np.testing.assert_allclose(potential, reference, rtol=0, atol=1e-6 * pair.voltage_v)


def test_row_blocks_give_the_serial_products_to_the_last_bit() -> None:
    """Products split over worker threads by row blocks equal scipy's serial ones
    exactly (each row is computed alike), for vectors and sparse matrices, including
    blocks cut at uneven row lengths."""
    rng = np.random.default_rng(7)
    n = 120_000
    rows = rng.integers(0, n, 12 * n)
    columns = np.clip(rows + rng.integers(-500, 500, len(rows)), 0, n - 1)
    a = sp.csr_matrix((rng.standard_normal(len(rows)), (rows, columns)), shape=(n, n))
    aggregate = sp.csr_matrix((rng.random(n), (np.arange(n), np.arange(n) // 7)))
    x = rng.standard_normal(n)
    for parts in (1, 2, 3, 5):
        blocks = RowBlocks(a, parts=parts, min_nnz=0)
        assert blocks.parts == parts
        assert np.array_equal(blocks.matvec(x), a @ x)
        assert np.array_equal(blocks.operator().matvec(x), a @ x)
        product = blocks.matmat(aggregate)
        expected = sp.csr_matrix(a @ aggregate)
        assert product.shape == expected.shape
        assert np.array_equal(product.indptr, expected.indptr)
        assert np.array_equal(product.indices, expected.indices)
        assert np.array_equal(product.data, expected.data)
        # A Galerkin product R A P by blocks of R's rows.
        restriction = sp.csr_matrix(aggregate.T)
        by_rows = RowBlocks(restriction, parts=parts, min_nnz=0)
        assert by_rows.parts == parts
        galerkin = by_rows.matmat(a, aggregate)
        expected = sp.csr_matrix(restriction @ a @ aggregate)
        assert np.array_equal(galerkin.indptr, expected.indptr)
        assert np.array_equal(galerkin.indices, expected.indices)
        assert np.array_equal(galerkin.data, expected.data)
    # Small matrices are not split.
    assert RowBlocks(a[:10_000], parts=4).parts == 1
    # A gather large enough for the workers, and an array first touched by them.
    indices = rng.integers(0, n, 2_500_000).astype(np.int32)
    assert np.array_equal(threads.take(x, indices), x[indices])
    array = threads.empty((3_000_000, 2), dtype=np.int32)
    assert array.shape == (3_000_000, 2)
    assert array.dtype == np.int32


def test_extruded_pattern_equals_the_pattern_of_its_edges(
    hexagon: tuple[Mesh, P1Space, tuple[Pair, ...]],
) -> None:
    """The CSR structure built level by level from the 2-D mesh equals the one built by
    sorting every 3-D edge, entry for entry, with the same edge-value index; and K
    from it equals the element-by-element assembly sum of sigma V g_i . g_j."""
    mesh, space, _ = hexagon
    reference = edge_pattern(mesh.edges, len(mesh.points))
    assert np.array_equal(mesh.pattern.indptr, reference.indptr)
    assert np.array_equal(mesh.pattern.indices, reference.indices)
    assert np.array_equal(mesh.pattern.data, reference.data)
    sigma = np.random.default_rng(3).uniform(0.1, 1.0, len(mesh.tets))
    gradients = space.gradients
    local = np.einsum("mid,mjd->mij", gradients, gradients) * (sigma * space.volumes)[:, None, None]
    rows = np.repeat(mesh.tets, 4, axis=1).ravel()
    columns = np.tile(mesh.tets, (1, 4)).ravel()
    n = len(mesh.points)
    k_reference = sp.csr_matrix((local.ravel(), (rows, columns)), shape=(n, n))
    k_matrix = space.stiffness(sigma)
    assert abs(k_matrix - k_reference).max() < 1e-12 * abs(k_reference).max()


def test_level_by_level_assembly_equals_the_element_matrix() -> None:
    """The extrusion's assembly, one template per distinct level spacing and kept
    triangles, equals the (E x M) matrix of every element's six edge weights, both
    ways (edge values from a conductivity, element sums from edge values), on a mesh
    with needle tips inside it (removed prisms above them) and growing spacings."""
    model = build_model({"electrode": "hexagonal", "tissue": "skin-layered"})
    mesh = build_mesh(model, 1.2)
    extrusion = mesh.extrusion
    assert extrusion.inside.any()  # prisms inside the needles above their tips
    assert not extrusion.inside.all(axis=1).any()
    assert len(np.unique(extrusion.spacing)) > 2
    n_elements = len(mesh.labels)
    matrix = sp.csc_matrix(
        (
            mesh.geometry.edge_weights.ravel(),
            mesh.tet_edges.ravel(),
            np.arange(0, 6 * n_elements + 1, 6),
        ),
        shape=(len(mesh.edges), n_elements),
    )
    rng = np.random.default_rng(11)
    sigma = rng.uniform(0.1, 1.0, n_elements)
    edge_vector = rng.standard_normal(len(mesh.edges))
    assembly = extrusion.assembly
    assert assembly.shape == matrix.shape
    np.testing.assert_allclose(assembly.matvec(sigma), matrix @ sigma, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        assembly.rmatvec(edge_vector), matrix.T @ edge_vector, rtol=0, atol=1e-12
    )
    # Fewer templates than levels: levels of equal spacing share one.
    assert assembly.n_templates < len(extrusion.spacing)


def _product_in_child(matrix: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    return RowBlocks(matrix, parts=2, min_nnz=0).matvec(x)


def test_row_blocks_limited_and_after_fork() -> None:
    """Within ``at_most(1)`` products are not split; a process forked after the
    worker pool started (as multiprocessing does on Linux) gets a pool of its own
    instead of waiting for its parent's threads."""
    rng = np.random.default_rng(5)
    n = 60_000
    rows = rng.integers(0, n, 10 * n)
    matrix = sp.csr_matrix((rng.standard_normal(len(rows)), (rows, rng.integers(0, n, len(rows)))))
    x = rng.standard_normal(n)
    assert RowBlocks(matrix, parts=2, min_nnz=0).matvec(x) is not None  # starts the pool
    with threads.at_most(1):
        assert threads.workers() == 1
        assert RowBlocks(matrix, min_nnz=0).parts == 1
    with multiprocessing.get_context("fork").Pool(1) as pool:
        product = pool.apply_async(_product_in_child, (matrix, x)).get(timeout=60)
    assert np.array_equal(product, matrix @ x)
