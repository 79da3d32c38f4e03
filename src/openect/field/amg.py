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

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray
from pyamg.aggregation.aggregate import standard_aggregation
from pyamg.aggregation.smooth import jacobi_prolongation_smoother
from pyamg.aggregation.tentative import fit_candidates
from pyamg.relaxation.relaxation import gauss_seidel
from pyamg.strength import classical_strength_of_connection
from scipy.sparse.linalg import LinearOperator

from openect.field.threads import RowBlocks

#: Strength threshold: a coupling is strong when |a_ij| >= THETA max_k |a_ik|.
THETA = 0.25
#: Largest level solved directly.
MAX_COARSE = 500
#: Most levels.
MAX_LEVELS = 10


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


class Hierarchy:
    """Smoothed aggregation hierarchy of an SPD CSR matrix, and its V-cycle."""

    def __init__(self, a: sp.csr_matrix) -> None:
        a = sp.csr_matrix(a)
        # Near-null space: the constant (Laplace-type operators).
        b: NDArray[np.float64] = np.ones((a.shape[0], 1))
        self.levels: list[Level] = [Level(a)]
        while len(self.levels) < MAX_LEVELS and self.levels[-1].a.shape[0] > MAX_COARSE:
            level = self.levels[-1]
            strength = classical_strength_of_connection(level.a, theta=THETA)
            aggregates, _ = standard_aggregation(strength)
            if aggregates.shape[1] in (0, level.a.shape[0]):
                break  # no further coarsening possible
            tentative, b = fit_candidates(aggregates, b)
            p = sp.csr_matrix(
                jacobi_prolongation_smoother(
                    level.a, tentative, strength, b, filter_entries=True, weighting="local"
                )
            )
            r = sp.csr_matrix(p.T)
            level.set_transfer(p, r)
            assert level.r_rows is not None
            coarse = level.r_rows.matmat(level.a_rows.matmat(p))
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
