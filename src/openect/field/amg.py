"""Smoothed aggregation algebraic multigrid for the field engine's SPD matrices.

The hierarchy is pyamg's smoothed aggregation, assembled here from pyamg's own
components (strength of connection, standard aggregation, tentative prolongator,
filtered Jacobi prolongation smoothing, Gauss-Seidel relaxation) so that every level is
kept in CSR form: pyamg's solver keeps its coarse levels as BSR matrices with 1 x 1
blocks, on which the setup's products and a Gauss-Seidel sweep cost several times
more than on the same matrix in CSR. The preconditioner is one V-cycle without the
residual norms that pyamg's ``solve`` computes on the finest level for its own stopping
test (two extra products with the fine matrix per cycle, of no use inside CG).

Choices, for the extruded meshes of :mod:`openect.field.mesh` (flat elements far from
the electrodes, tall ones at the needles, so the strong direction varies):

- classical strength of connection, |a_ij| >= THETA max_k |a_ik|: the aggregates follow
  the strong couplings;
- the prolongator is smoothed by one Jacobi step with the strong couplings only
  (filtered), weighted per row by its Gershgorin bound (no eigenvalue estimate), and
  corrected so that it still reproduces the constant; this keeps the coarse levels
  sparse (operator complexity about 1.5);
- the constant is the near-null space as it is (no candidate improvement);
- the V-cycle smooths with one forward Gauss-Seidel sweep before the coarse correction
  and one backward sweep after, so that it is a symmetric preconditioner, as CG needs;
- the coarsest level (at most MAX_COARSE unknowns) is solved by a dense Cholesky
  factorisation;
- the products with each level's matrix, prolongator and restriction, in the setup
  (the Galerkin product R A P) and in the V-cycle, run over row blocks on worker
  threads (:mod:`openect.field.threads`); the Gauss-Seidel sweeps run on one core
  (pyamg keeps the GIL in them).

Measured on the needle pair at 331 k unknowns (docs/performance.md): 12-15 CG
iterations instead of the 53 of pyamg's default smoothed aggregation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray
from pyamg import amg_core
from pyamg.relaxation.relaxation import gauss_seidel
from scipy.sparse.linalg import LinearOperator

from openect.field.threads import RowBlocks, workers

#: Strength threshold: a coupling is strong when |a_ij| >= THETA max_k |a_ik|.
THETA = 0.25
#: Largest level solved directly.
MAX_COARSE = 500
#: Most levels.
MAX_LEVELS = 10
#: Blocks of coarse rows per worker thread in the Galerkin product.
GALERKIN_BLOCKS_PER_WORKER = 4


@dataclass
class Level:
    """One level: its matrix, and the prolongator to it from the next coarser level
    and its transpose (the restriction), each cut in row blocks for the worker
    threads."""

    a: sp.csr_matrix
    p: sp.csr_matrix | None = None
    r: sp.csr_matrix | None = None

    def __post_init__(self) -> None:
        self.a_rows = RowBlocks(self.a)
        self.p_rows: RowBlocks | None = None
        self.r_rows: RowBlocks | None = None

    def set_transfer(self, p: sp.csr_matrix, r: sp.csr_matrix) -> None:
        """Set the prolongator ``p`` and the restriction ``r``."""
        self.p, self.r = p, r
        self.p_rows, self.r_rows = RowBlocks(p), RowBlocks(r)


def strong_couplings(a: sp.csr_matrix, theta: float = THETA) -> sp.csr_matrix:
    """A restricted to its diagonal and its strong couplings, |a_ij| >= theta max_k
    |a_ik| (k != i), with A's values (explicit zeros dropped): pyamg's classical
    strength kernel, which keeps the values that pyamg's own wrapper then rescales."""
    n = a.shape[0]
    indptr = np.empty_like(a.indptr)
    indices = np.empty_like(a.indices)
    data = np.empty_like(a.data)
    amg_core.classical_strength_of_connection_abs(
        n, theta, a.indptr, a.indices, a.data, indptr, indices, data
    )
    nnz = int(indptr[-1])
    strong = sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=a.shape)
    # A row whose couplings are all zero (an eliminated node) keeps its zeros.
    strong.eliminate_zeros()
    return strong


def tentative_prolongator(
    aggregates: NDArray[np.signedinteger[Any]], count: int, b: NDArray[np.float64]
) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
    """The tentative prolongator of the aggregates (-1: in none), one entry per row,
    which reproduces the candidate ``b`` (one value per node) with orthonormal
    columns; and the coarse candidate (the norm of ``b`` on each aggregate)."""
    member = aggregates >= 0
    columns = aggregates[member]
    norms = np.sqrt(np.bincount(columns, weights=b[member] ** 2, minlength=count))
    indptr = np.zeros(len(aggregates) + 1, dtype=aggregates.dtype)
    np.cumsum(member, out=indptr[1:])
    tentative = sp.csr_matrix(
        (b[member] / norms[columns], columns, indptr), shape=(len(aggregates), count)
    )
    return tentative, norms


def smoothed_prolongator(
    strong: sp.csr_matrix,
    tentative: sp.csr_matrix,
    coarse_b: NDArray[np.float64],
    omega: float = 4.0 / 3.0,
) -> sp.csr_matrix:
    """P = T - U, U = omega D^-1 A_F T with A_F the strong part of A (filtered), D
    its Gershgorin row sums sum_j |a_ij|, and each row of U then made orthogonal to
    the coarse candidate on its pattern, so that P reproduces the candidate as T
    does (pyamg's filtered Jacobi smoother with local weighting, all in CSR)."""
    n = strong.shape[0]
    counts = np.diff(strong.indptr)
    rows = np.repeat(np.arange(n, dtype=strong.indices.dtype), counts)
    gershgorin = np.bincount(rows, weights=np.abs(strong.data), minlength=n)
    weight = np.divide(omega, gershgorin, out=np.zeros(n), where=gershgorin > 0)
    scaled = sp.csr_matrix(
        (strong.data * weight[rows], strong.indices, strong.indptr), shape=strong.shape
    )
    update = RowBlocks(scaled).matmat(tentative)
    update.sort_indices()
    rows = np.repeat(np.arange(n, dtype=update.indices.dtype), np.diff(update.indptr))
    candidate = coarse_b[update.indices]
    along = np.bincount(rows, weights=update.data * candidate, minlength=n)
    norm = np.bincount(rows, weights=candidate * candidate, minlength=n)
    along = np.divide(along, norm, out=np.zeros(n), where=norm > 0)
    update.data -= along[rows] * candidate
    prolongator = sp.csr_matrix(tentative - update)
    prolongator.sort_indices()
    return prolongator


class Hierarchy:
    """Smoothed aggregation hierarchy of an SPD CSR matrix, and its V-cycle."""

    def __init__(self, a: sp.csr_matrix) -> None:
        a = sp.csr_matrix(a)
        # Near-null space: the constant (Laplace-type operators).
        b: NDArray[np.float64] = np.ones(a.shape[0])
        self.levels: list[Level] = [Level(a)]
        while len(self.levels) < MAX_LEVELS and self.levels[-1].a.shape[0] > MAX_COARSE:
            level = self.levels[-1]
            n = level.a.shape[0]
            strong = strong_couplings(level.a)
            aggregates = np.empty(n, dtype=strong.indices.dtype)
            roots = np.empty(n, dtype=strong.indices.dtype)
            count = amg_core.standard_aggregation(
                n, strong.indptr, strong.indices, aggregates, roots
            )
            if count in (0, n):
                break  # no further coarsening possible
            tentative, b = tentative_prolongator(aggregates, count, b)
            p = smoothed_prolongator(strong, tentative, b)
            r = sp.csr_matrix(p.T)
            level.set_transfer(p, r)
            # R A P by blocks of coarse rows, (R_b A) P: A P is never formed whole.
            coarse = RowBlocks(r, parts=GALERKIN_BLOCKS_PER_WORKER * workers()).matmat(level.a, p)
            coarse.sort_indices()
            self.levels.append(Level(coarse))
        coarsest = self.levels[-1].a.toarray()
        try:
            self._cholesky: tuple[NDArray[np.float64], bool] | None = scipy.linalg.cho_factor(
                coarsest
            )
            self._pinv: NDArray[np.float64] | None = None
        except np.linalg.LinAlgError:
            self._cholesky = None
            self._pinv = np.linalg.pinv(coarsest)

    @property
    def operator_complexity(self) -> float:
        """Non-zeros of all levels over those of the finest."""
        return float(sum(level.a.nnz for level in self.levels) / self.levels[0].a.nnz)

    def _coarse_solve(self, rhs: NDArray[np.float64]) -> NDArray[np.float64]:
        if self._cholesky is not None:
            return np.asarray(scipy.linalg.cho_solve(self._cholesky, rhs), dtype=np.float64)
        assert self._pinv is not None
        return np.asarray(self._pinv @ rhs, dtype=np.float64)

    def vcycle(self, rhs: NDArray[np.float64], index: int = 0) -> NDArray[np.float64]:
        """One V-cycle from a zero initial guess for ``A x = rhs`` on level ``index``."""
        level = self.levels[index]
        if index == len(self.levels) - 1:
            return self._coarse_solve(rhs)
        assert level.p_rows is not None
        assert level.r_rows is not None
        x = np.zeros_like(rhs)
        gauss_seidel(level.a, x, rhs, iterations=1, sweep="forward")
        residual = rhs - level.a_rows.matvec(x)
        x += level.p_rows.matvec(self.vcycle(level.r_rows.matvec(residual), index + 1))
        gauss_seidel(level.a, x, rhs, iterations=1, sweep="backward")
        return x

    def preconditioner(self) -> LinearOperator:
        """One V-cycle as a linear operator (symmetric positive definite)."""
        n = self.levels[0].a.shape[0]
        return LinearOperator(
            (n, n),
            matvec=lambda v: self.vcycle(np.ascontiguousarray(v, dtype=np.float64).ravel()),
            dtype=np.float64,
        )
