"""P1 finite elements on tetrahedra: gradients, volumes and stiffness assembly.

For a tetrahedron with vertices p0..p3 and edges e_i = p_i - p0, the gradients of the
barycentric coordinates are (e2 x e3, e3 x e1, e1 x e2) / det for vertices 1..3 and
minus their sum for vertex 0; det = e1 . (e2 x e3) = 6 x volume. The element
stiffness is sigma V G G^T. Lengths in mm and sigma in S/m give K in mS (1e-3 S).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


@dataclass
class P1Space:
    """Geometry of the P1 space and the fixed sparsity pattern of its stiffness matrix."""

    gradients: NDArray[np.float64]  # (M, 4, 3), 1/mm
    volumes: NDArray[np.float64]  # (M,), mm3
    local: NDArray[np.float64]  # (M, 16): V G G^T, without sigma
    pattern: sp.csr_matrix  # structure of K (its data is replaced per assembly)
    scatter: NDArray[np.int64]  # (M * 16,) position of each local entry in pattern.data
    tets: NDArray[np.int64]

    @classmethod
    def build(cls, points: NDArray[np.float64], tets: NDArray[np.int64]) -> P1Space:
        """Gradients, volumes and the CSR pattern of a tetrahedral mesh."""
        p = points[tets]
        e1, e2, e3 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]
        c23, c31, c12 = np.cross(e2, e3), np.cross(e3, e1), np.cross(e1, e2)
        det = np.einsum("ij,ij->i", e1, c23)
        if np.any(np.abs(det) < 1e-14):
            raise ValueError("degenerate tetrahedron in the mesh")
        g1, g2, g3 = c23 / det[:, None], c31 / det[:, None], c12 / det[:, None]
        gradients = np.stack([-(g1 + g2 + g3), g1, g2, g3], axis=1)
        volumes = np.abs(det) / 6.0
        local = (volumes[:, None, None] * gradients @ gradients.transpose(0, 2, 1)).reshape(-1, 16)
        n = len(points)
        rows = np.repeat(tets, 4, axis=1).ravel()
        cols = np.tile(tets, (1, 4)).ravel()
        pattern = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
        pattern.sum_duplicates()
        pattern.sort_indices()
        # Position of every local entry in the CSR data: CSR keys row * n + col are sorted.
        entry_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(pattern.indptr))
        keys = entry_rows * n + pattern.indices
        scatter = np.searchsorted(keys, rows.astype(np.int64) * n + cols)
        return cls(gradients, volumes, local, pattern, scatter, tets)

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.pattern.shape[0])

    def stiffness(self, sigma: NDArray[np.float64]) -> sp.csr_matrix:
        """K (mS) for the conductivity per element (S/m), scattered into the fixed pattern."""
        data = np.bincount(
            self.scatter, weights=(sigma[:, None] * self.local).ravel(), minlength=self.pattern.nnz
        )
        matrix = self.pattern.copy()
        matrix.data = data
        return matrix

    def field(self, potential: NDArray[np.float64]) -> NDArray[np.float64]:
        """E = -grad phi per element (V/cm) from node potentials (V)."""
        field = -np.einsum("eki,ek->ei", self.gradients, potential[self.tets]) * 10.0
        return np.asarray(field, dtype=np.float64)
