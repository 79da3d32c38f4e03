"""P1 finite elements on tetrahedra: gradients, volumes and stiffness assembly.

For a tetrahedron with vertices p0..p3 and edges e_i = p_i - p0, the gradients of the
barycentric coordinates are (e2 x e3, e3 x e1, e1 x e2) / det for vertices 1..3 and
minus their sum for vertex 0; det = e1 . (e2 x e3) = 6 x volume. The element
stiffness is sigma V G G^T. Lengths in mm and sigma in S/m give K in mS (1e-3 S).

Assembly works on mesh edges: the off-diagonal entry of edge (i, j) is the sum over
the tetrahedra holding it of sigma V g_i . g_j, and the diagonal is minus the sum of
its row's off-diagonals (the gradients of a tetrahedron sum to zero, so every row of
K sums to zero). Each tetrahedron thus contributes 6 numbers instead of 16, and the
CSR pattern is built once per mesh; an extruded mesh passes its edge numbering in
directly, so that no sort over the elements is needed, and its CSR pattern, built
level by level from the 2-D one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Vertex pairs (local indices) of a tetrahedron's six edges, in the order of
#: ``tet_edges`` columns.
LOCAL_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


class P1Geometry:
    """Per-tetrahedron quantities of the P1 space: volumes, edge weights, and the
    gradients of the barycentric coordinates. The edge weights may be given as a
    function that makes them, and the gradients as one that makes them for given
    tetrahedra: they are then made only when asked for (an extruded mesh derives them
    from its triangles and level spacings)."""

    def __init__(
        self,
        volumes: NDArray[np.float64],
        edge_weights: NDArray[np.float64] | Callable[[], NDArray[np.float64]],
        gradients: NDArray[np.float64] | None = None,
        gradients_of: Callable[[NDArray[np.int64]], NDArray[np.float64]] | None = None,
    ) -> None:
        if gradients is None and gradients_of is None:
            raise ValueError("P1Geometry needs the gradients or a way to make them")
        #: (M,), mm3.
        self.volumes = volumes
        self._edge_weights = edge_weights
        self._gradients = gradients
        self._gradients_of = gradients_of

    @cached_property
    def edge_weights(self) -> NDArray[np.float64]:
        """(M, 6): V g_i . g_j (mm) for each local edge, without sigma."""
        if callable(self._edge_weights):
            return self._edge_weights()
        return self._edge_weights

    def gradients_at(self, cells: NDArray[np.int64]) -> NDArray[np.float64]:
        """(len(cells), 4, 3) barycentric gradients (1/mm) of the given tetrahedra."""
        if self._gradients is not None:
            return self._gradients[cells]
        assert self._gradients_of is not None
        return self._gradients_of(np.asarray(cells, dtype=np.int64))

    @cached_property
    def gradients(self) -> NDArray[np.float64]:
        """(M, 4, 3) barycentric gradients (1/mm) of every tetrahedron."""
        if self._gradients is not None:
            return self._gradients
        return self.gradients_at(np.arange(len(self.volumes)))

    @classmethod
    def of(cls, points: NDArray[np.float64], tets: NDArray[np.int64]) -> P1Geometry:
        """Gradients, volumes and edge weights of any tetrahedral mesh."""
        p = points[tets]
        e1, e2, e3 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]
        c23, c31, c12 = np.cross(e2, e3), np.cross(e3, e1), np.cross(e1, e2)
        det = np.einsum("ij,ij->i", e1, c23)
        if np.any(np.abs(det) < 1e-14):
            raise ValueError("degenerate tetrahedron in the mesh")
        g1, g2, g3 = c23 / det[:, None], c31 / det[:, None], c12 / det[:, None]
        gradients = np.stack([-(g1 + g2 + g3), g1, g2, g3], axis=1)
        volumes = np.abs(det) / 6.0
        edge_weights = np.stack(
            [np.einsum("ij,ij->i", gradients[:, i], gradients[:, j]) for i, j in LOCAL_EDGES],
            axis=1,
        )
        edge_weights *= volumes[:, None]
        return cls(volumes, edge_weights, gradients=gradients)


class Assembly(Protocol):
    """The (E x M) sparse map from a value per element to one per edge: entry (e, m)
    is V g_i . g_j of element m's local edge (i, j) that is mesh edge e."""

    shape: tuple[int, int]

    def matvec(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per edge: the sum over its elements of weight x value."""
        ...

    def rmatvec(self, edge_values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per element: the sum over its edges of weight x edge value."""
        ...


class MatrixAssembly:
    """An assembly held as a sparse matrix."""

    def __init__(self, matrix: sp.spmatrix) -> None:
        self.matrix = matrix
        self.shape: tuple[int, int] = (int(matrix.shape[0]), int(matrix.shape[1]))

    def matvec(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per edge: the sum over its elements of weight x value."""
        return np.asarray(self.matrix @ values, dtype=np.float64)

    def rmatvec(self, edge_values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per element: the sum over its edges of weight x edge value."""
        return np.asarray(self.matrix.T @ edge_values, dtype=np.float64)


@dataclass
class P1Space:
    """Geometry of the P1 space and the fixed sparsity pattern of its stiffness matrix."""

    geometry: P1Geometry
    volumes: NDArray[np.float64]  # (M,), mm3
    #: (E, 2): node pair of each global edge (i != j).
    edges: NDArray[np.int64]
    #: Structure of K; its (integer) data holds each entry's index in
    #: :meth:`edge_values` (copies of it get K's values).
    pattern: sp.csr_matrix
    #: (E x M): edge values of K for a conductivity per element.
    assembly: Assembly
    #: (M, 4) nodes of each tetrahedron, or a function that makes them.
    element_nodes: NDArray[np.signedinteger[Any]] | Callable[[], NDArray[np.signedinteger[Any]]]

    @cached_property
    def tets(self) -> NDArray[np.signedinteger[Any]]:
        """(M, 4) nodes of each tetrahedron."""
        if callable(self.element_nodes):
            return self.element_nodes()
        return self.element_nodes

    @classmethod
    def build(
        cls,
        points: NDArray[np.float64],
        tets: NDArray[np.int64],
        edges: NDArray[np.int64] | None = None,
        tet_edges: NDArray[np.int64] | None = None,
        geometry: P1Geometry | None = None,
        pattern: sp.csr_matrix | None = None,
    ) -> P1Space:
        """Gradients, volumes and the CSR pattern of a tetrahedral mesh; ``edges`` and
        ``tet_edges`` (the mesh's edge numbering), ``geometry`` and ``pattern`` (whose
        data holds each entry's index in :meth:`edge_values`) are derived when not
        given."""
        if geometry is None:
            geometry = P1Geometry.of(points, tets)
        n = len(points)
        if edges is None or tet_edges is None:
            edges, tet_edges = edge_numbering(tets, n)
        m = len(edges)
        if pattern is None:
            pattern = edge_pattern(edges, n)
        # Edge values = assembly @ sigma: the element edge weights as a sparse (E x M)
        # matrix, stored by element (six entries per column), which needs no sorting.
        n_local = tet_edges.shape[1]
        assembly = sp.csc_matrix(
            (
                geometry.edge_weights.ravel(),
                tet_edges.ravel(),
                np.arange(0, n_local * len(tets) + 1, n_local, dtype=tet_edges.dtype),
            ),
            shape=(m, len(tets)),
        )
        return cls(geometry, geometry.volumes, edges, pattern, MatrixAssembly(assembly), tets)

    @property
    def gradients(self) -> NDArray[np.float64]:
        """(M, 4, 3) barycentric gradients (1/mm) of every tetrahedron."""
        return self.geometry.gradients

    @property
    def edge_weights(self) -> NDArray[np.float64]:
        """(M, 6): V g_i . g_j (mm) for each local edge, without sigma."""
        return self.geometry.edge_weights

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.pattern.shape[0])

    def stiffness(self, sigma: NDArray[np.float64]) -> sp.csr_matrix:
        """K (mS) for the conductivity per element (S/m), scattered into the fixed pattern."""
        data = self.edge_values(sigma)[self.source]
        return sp.csr_matrix(
            (data, self.pattern.indices, self.pattern.indptr), shape=self.pattern.shape
        )

    def edge_values(self, sigma: NDArray[np.float64]) -> NDArray[np.float64]:
        """K's values (mS) for the conductivity per element (S/m), without the pattern:
        the off-diagonal value of each edge, then the diagonal of each node
        (length E + N); :attr:`source` places them in K's CSR data."""
        off = self.assembly.matvec(sigma)
        diagonal = -(
            np.bincount(self.edges[:, 0], weights=off, minlength=self.n)
            + np.bincount(self.edges[:, 1], weights=off, minlength=self.n)
        )
        return np.concatenate([off, diagonal])

    @property
    def source(self) -> NDArray[np.int64]:
        """For each entry of K's CSR data, its index in :meth:`edge_values`."""
        return np.asarray(self.pattern.data)

    def field_magnitude(self, potential: NDArray[np.float64]) -> NDArray[np.float64]:
        """|E| per element (V/cm) from node potentials (V), by the element's edges:
        V |grad phi|^2 = -sum over its six edges of V g_i . g_j (phi_i - phi_j)^2 (the
        element matrix has zero row sums), which needs no gradient array."""
        jump = potential[self.edges[:, 0]] - potential[self.edges[:, 1]]
        energy = -self.assembly.rmatvec(jump * jump)
        return np.asarray(10.0 * np.sqrt(np.maximum(energy, 0.0) / self.volumes))

    def field(self, potential: NDArray[np.float64]) -> NDArray[np.float64]:
        """E = -grad phi per element (V/cm) from node potentials (V)."""
        field = -np.einsum("eki,ek->ei", self.gradients, potential[self.tets]) * 10.0
        return np.asarray(field, dtype=np.float64)


def edge_pattern(edges: NDArray[np.int64], n_nodes: int) -> sp.csr_matrix:
    """CSR structure of K (sorted columns) for the edges (E, 2) of a mesh of
    ``n_nodes`` nodes; its data holds each entry's index in
    :meth:`P1Space.edge_values`: the edge's number off the diagonal, E + the node's on
    it."""
    m = len(edges)
    index = np.int32 if m + n_nodes < 2**31 - 1 else np.int64
    rows = np.concatenate([edges[:, 0], edges[:, 1], np.arange(n_nodes)]).astype(index)
    cols = np.concatenate([edges[:, 1], edges[:, 0], np.arange(n_nodes)]).astype(index)
    source = np.concatenate([np.arange(m), np.arange(m), m + np.arange(n_nodes)]).astype(index)
    # Entries are distinct, so the CSR conversion keeps them one to one.
    pattern = sp.csr_matrix((source, (rows, cols)), shape=(n_nodes, n_nodes))
    pattern.sort_indices()
    return pattern


def edge_numbering(
    tets: NDArray[np.int64], n_nodes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Edges (E, 2) of a tetrahedral mesh, each once with i < j, and the global edge of
    each tetrahedron's local edges (M, 6), by sorting the element edges."""
    first = tets[:, [i for i, _ in LOCAL_EDGES]]
    second = tets[:, [j for _, j in LOCAL_EDGES]]
    low = np.minimum(first, second).astype(np.int64)
    high = np.maximum(first, second).astype(np.int64)
    keys, inverse = np.unique((low * n_nodes + high).ravel(), return_inverse=True)
    edges = np.column_stack([keys // n_nodes, keys % n_nodes])
    return edges, inverse.reshape(-1, 6).astype(np.int64)
