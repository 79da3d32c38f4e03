"""Tetrahedra of a 2-D triangulation extruded over depth levels, and their assembly.

Each prism (a triangle between two levels) is split into three tetrahedra by the
global vertex order, so that neighbouring prisms split their shared faces alike. A
tetrahedron's quantities follow from its prism's triangle, the level spacing h and
its split type: volume A h / 3; barycentric gradients made of the triangle's 2-D
gradients and +-1/h; edge weights V g_i . g_j = h w_plane + w_z A / (3 h). So the
element arrays (nodes, edge numbers, edge weights, gradients) are made only when
asked for, and the stiffness assembly (:class:`ExtrudedAssembly`) works level by
level from one small template per distinct (spacing, kept triangles) pair, without
the six weights and six edge numbers per element that a general mesh needs.

Mesh edges are horizontal (a 2-D edge at a level), vertical (a 2-D node between two
levels) or diagonal (2-D edge x < y from x at a level to y at the next), numbered in
that order. For a prism with sorted triangle a < b < c between levels lo and hi, the
three tetrahedra [a b c c'], [a b b' c'], [a a' b' c'] (primes at hi) have, in the
order of ``LOCAL_EDGES``: H(ab) H(ac) D(ac) H(bc) D(bc) V(c); H(ab) D(ab) D(ac) V(b)
D(bc) H'(bc); V(a) D(ab) D(ac) H'(ab) H'(ac) H'(bc). The tetrahedra are numbered
level by level, and within a level split type by split type over the level's kept
triangles (prisms inside a conductor above its tip are removed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from openect.field import threads
from openect.field.fem import LOCAL_EDGES

#: The three tetrahedra of a prism with sorted triangle a < b < c between a lower and an
#: upper level: (corner 0 = a, 1 = b, 2 = c; level 0 = lower, 1 = upper) per vertex:
#: [a b c c'], [a b b' c'], [a a' b' c'] (primes upper).
PRISM_SPLIT = np.array(
    [
        [[0, 0], [1, 0], [2, 0], [2, 1]],
        [[0, 0], [1, 0], [1, 1], [2, 1]],
        [[0, 0], [0, 1], [1, 1], [2, 1]],
    ]
)
#: Barycentric gradients of the three tetrahedra in terms of the triangle's 2-D
#: gradients L_a, L_b, L_c (in-plane part: coefficients of L_a, L_b, L_c per vertex)
#: and of 1/h (z part), h the level spacing; e.g. in [a b c c'] the functions are
#: lambda_a, lambda_b, lambda_c - s and s with s = (z - z_lower) / h.
_IN_PLANE = np.array(
    [
        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]],
        [[1, 0, 0], [-1, 0, 0], [0, 0, -1], [0, 0, 1]],
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
    ],
    dtype=np.float64,
)
_Z_PART = np.array([[0, 0, -1, 1], [0, -1, 1, 0], [-1, 1, 0, 0]], dtype=np.float64)


def index_dtype(count: int) -> type[np.signedinteger[Any]]:
    """Integer type for numbers below ``count``: 32 bits when they fit."""
    return np.int32 if count < 2**31 - 1 else np.int64


@dataclass(frozen=True)
class Block:
    """The tetrahedra of one split type at one level: ``start:stop`` in the element
    numbering, over the level's kept triangles."""

    level: int
    kind: int
    start: int
    stop: int
    triangles: NDArray[np.int64]


class Extrusion:
    """The tetrahedra of a triangulation extruded over ``levels`` (mm), without the
    prisms flagged in ``inside`` (levels-1, triangles)."""

    def __init__(
        self,
        points2d: NDArray[np.float64],
        ordered: NDArray[np.int64],
        levels: NDArray[np.float64],
        inside: NDArray[np.bool_],
        numbering: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int],
    ) -> None:
        self.points2d = points2d
        #: (m2, 3) triangles with sorted vertices a < b < c.
        self.ordered = ordered
        self.levels = levels
        self.spacing = np.diff(levels)
        self.ab, self.ac, self.bc, self.n2e = numbering
        self.n2, self.m2, self.nl = len(points2d), len(ordered), len(levels)
        self.n_h, self.n_v = self.nl * self.n2e, (self.nl - 1) * self.n2
        #: Number of mesh edges (horizontal, vertical, diagonal).
        self.n_edges = self.n_h + self.n_v + (self.nl - 1) * self.n2e
        self.inside = inside
        self.kept = [np.flatnonzero(~inside[level]) for level in range(self.nl - 1)]
        sizes = [len(t) for t in self.kept for _ in range(3)]
        self.block_starts = np.cumsum([0, *sizes])
        #: Number of tetrahedra.
        self.size = int(self.block_starts[-1])
        self._level_starts = np.cumsum([0] + [len(t) for t in self.kept])
        self._kept_flat = np.concatenate(self.kept).astype(np.int32)

        a, b, c = ordered[:, 0], ordered[:, 1], ordered[:, 2]
        pa, pb, pc = points2d[a], points2d[b], points2d[c]
        det = (pb[:, 0] - pa[:, 0]) * (pc[:, 1] - pa[:, 1]) - (pb[:, 1] - pa[:, 1]) * (
            pc[:, 0] - pa[:, 0]
        )
        if np.any(np.abs(det) < 1e-14):
            raise ValueError("degenerate triangle in the mesh")
        grad2 = (
            np.stack(  # (m2, 3 corners, 2)
                [
                    np.column_stack([pb[:, 1] - pc[:, 1], pc[:, 0] - pb[:, 0]]),
                    np.column_stack([pc[:, 1] - pa[:, 1], pa[:, 0] - pc[:, 0]]),
                    np.column_stack([pa[:, 1] - pb[:, 1], pb[:, 0] - pa[:, 0]]),
                ],
                axis=1,
            )
            / det[:, None, None]
        )
        #: (m2,) triangle areas (mm2).
        self.area = np.abs(det) / 2
        self._in_plane = np.einsum("tvc,mcd->tmvd", _IN_PLANE, grad2)  # (3, m2, 4, 2)
        i = [i for i, _ in LOCAL_EDGES]
        j = [j for _, j in LOCAL_EDGES]
        self._w_plane = (
            np.einsum("tmkd,tmkd->tmk", self._in_plane[:, :, i], self._in_plane[:, :, j])
            * (self.area / 3)[None, :, None]
        )  # (3, m2, 6), times h
        self._w_z = _Z_PART[:, i] * _Z_PART[:, j]  # (3, 6), times A / (3 h)
        corners = np.stack([pa, pb, pc], axis=1)  # (m2, 3, 2)
        share = np.stack([np.bincount(PRISM_SPLIT[t, :, 0], minlength=3) for t in range(3)]) / 4
        self._xy = np.einsum("tc,mcd->tmd", share, corners)  # (3, m2, 2) centroids
        self._upper_share = PRISM_SPLIT[:, :, 1].mean(axis=1)  # (3,)

    def blocks(self) -> Iterator[Block]:
        """The element blocks, in element order."""
        for level, triangles in enumerate(self.kept):
            for kind in range(3):
                index = 3 * level + kind
                yield Block(
                    level,
                    kind,
                    int(self.block_starts[index]),
                    int(self.block_starts[index + 1]),
                    triangles,
                )

    def _edge_columns(
        self, block: Block, bases: tuple[int, int, int, int]
    ) -> tuple[NDArray[np.int64], ...]:
        """Edge numbers of the block's tetrahedra, per local edge, with the bases of
        the lower horizontal, upper horizontal, vertical and diagonal edges."""
        h_lo, h_hi, v, d = bases
        t = block.triangles
        e_ab, e_ac, e_bc = self.ab[t], self.ac[t], self.bc[t]
        nodes = self.ordered[t]
        return (
            (h_lo + e_ab, h_lo + e_ac, d + e_ac, h_lo + e_bc, d + e_bc, v + nodes[:, 2]),
            (h_lo + e_ab, d + e_ab, d + e_ac, v + nodes[:, 1], d + e_bc, h_hi + e_bc),
            (v + nodes[:, 0], d + e_ab, d + e_ac, h_hi + e_ab, h_hi + e_ac, h_hi + e_bc),
        )[block.kind]

    def _global_bases(self, level: int) -> tuple[int, int, int, int]:
        return (
            level * self.n2e,
            (level + 1) * self.n2e,
            self.n_h + level * self.n2,
            self.n_h + self.n_v + level * self.n2e,
        )

    def _weights(self, block: Block) -> NDArray[np.float64]:
        """(k, 6) edge weights V g_i . g_j (mm) of the block's tetrahedra."""
        h = self.spacing[block.level]
        t = block.triangles
        a_over_h = self.area[t] / (3 * h)
        weights: NDArray[np.float64] = (
            h * self._w_plane[block.kind, t] + self._w_z[block.kind] * a_over_h[:, None]
        )
        return weights

    def tets(self) -> NDArray[np.int32]:
        """(M, 4) nodes of every tetrahedron."""
        tets = threads.empty((self.size, 4), dtype=index_dtype(self.nl * self.n2))
        for block in self.blocks():
            nodes = self.ordered[block.triangles]
            for vertex, (corner, upper) in enumerate(PRISM_SPLIT[block.kind]):
                tets[block.start : block.stop, vertex] = (
                    nodes[:, corner] + (block.level + upper) * self.n2
                )
        return tets

    def tet_edges(self) -> NDArray[np.int32]:
        """(M, 6) edge of each tetrahedron's local edges (order of ``LOCAL_EDGES``)."""
        tet_edges = threads.empty((self.size, 6), dtype=index_dtype(self.n_edges))
        for block in self.blocks():
            columns = self._edge_columns(block, self._global_bases(block.level))
            for column, values in enumerate(columns):
                tet_edges[block.start : block.stop, column] = values
        return tet_edges

    def edge_weights(self) -> NDArray[np.float64]:
        """(M, 6) V g_i . g_j (mm) of every tetrahedron, without sigma."""
        weights = threads.empty((self.size, 6))
        for block in self.blocks():
            weights[block.start : block.stop] = self._weights(block)
        return weights

    def volumes(self) -> NDArray[np.float64]:
        """(M,) volumes (mm3): A h / 3."""
        volumes = threads.empty(self.size)
        for block in self.blocks():
            h = self.spacing[block.level]
            volumes[block.start : block.stop] = self.area[block.triangles] * h / 3
        return volumes

    def centroids(self, block: Block) -> NDArray[np.float64]:
        """(k, 3) centroids (mm) of the block's tetrahedra."""
        centroids = np.empty((block.stop - block.start, 3))
        centroids[:, :2] = self._xy[block.kind, block.triangles]
        h = self.spacing[block.level]
        centroids[:, 2] = self.levels[block.level] + h * self._upper_share[block.kind]
        return centroids

    def prism_tets(self) -> NDArray[np.int32]:
        """(levels-1, triangles, 3): the tetrahedra of each prism (-1: removed)."""
        table = np.full((self.nl - 1, self.m2, 3), -1, dtype=index_dtype(self.size))
        for block in self.blocks():
            table[block.level, block.triangles, block.kind] = np.arange(block.start, block.stop)
        return table

    def gradients_of(self, cells: NDArray[np.int64]) -> NDArray[np.float64]:
        """(len(cells), 4, 3) barycentric gradients (1/mm) of the given tetrahedra."""
        block = np.searchsorted(self.block_starts, cells, side="right") - 1
        at_level, at_kind = np.divmod(block, 3)
        at_triangle = self._kept_flat[
            self._level_starts[at_level] + cells - self.block_starts[block]
        ]
        gradients = np.empty((len(cells), 4, 3))
        gradients[..., :2] = self._in_plane[at_kind, at_triangle]
        gradients[..., 2] = _Z_PART[at_kind] / self.spacing[at_level][:, None]
        return gradients

    @cached_property
    def assembly(self) -> ExtrudedAssembly:
        """The map from conductivity per element to edge values, level by level."""
        n2e, n2 = self.n2e, self.n2
        local_bases = (0, n2e, 2 * n2e, 2 * n2e + n2)
        rows = 3 * n2e + n2
        # Levels with the same spacing and kept triangles share one template.
        group_of_key: dict[tuple[float, bytes], int] = {}
        group_of: list[int] = []
        first_level: list[int] = []
        for level in range(self.nl - 1):
            key = (float(self.spacing[level]), self.inside[level].tobytes())
            if key not in group_of_key:
                group_of_key[key] = len(first_level)
                first_level.append(level)
            group_of.append(group_of_key[key])
        templates: list[sp.csc_matrix] = []
        for level in first_level:
            columns, weights = [], []
            for kind in range(3):
                block = Block(level, kind, 0, len(self.kept[level]), self.kept[level])
                columns.append(np.column_stack(self._edge_columns(block, local_bases)))
                weights.append(self._weights(block))
            local = np.concatenate(columns)
            n_cols = len(local)
            templates.append(
                sp.csc_matrix(
                    (
                        np.concatenate(weights).ravel(),
                        local.ravel().astype(np.int32),
                        np.arange(0, 6 * n_cols + 1, 6, dtype=np.int32),
                    ),
                    shape=(rows, n_cols),
                )
            )
        starts = self.block_starts[::3]
        level_blocks = [
            (int(starts[level]), int(starts[level + 1]), group_of[level])
            for level in range(self.nl - 1)
        ]
        return ExtrudedAssembly(self, templates, level_blocks)


class ExtrudedAssembly:
    """The (E x M) sparse map from a value per element (the conductivity, S/m) to one
    per edge (the off-diagonal entries of K, mS), applied level by level: each level's
    elements touch only its horizontal edges, those of the next level, and its
    vertical and diagonal edges, which a template (local edges x level elements)
    maps."""

    def __init__(
        self,
        extrusion: Extrusion,
        templates: list[sp.csc_matrix],
        level_blocks: list[tuple[int, int, int]],
    ) -> None:
        self.shape = (extrusion.n_edges, extrusion.size)
        self._n2e, self._n2 = extrusion.n2e, extrusion.n2
        self._n_h, self._n_v = extrusion.n_h, extrusion.n_v
        self._templates = templates
        self._transposed = [template.T.tocsr() for template in templates]
        self._level_blocks = level_blocks

    @property
    def n_templates(self) -> int:
        """Number of distinct level templates."""
        return len(self._templates)

    def _ranges(self, level: int) -> list[tuple[int, int, int]]:
        """(local start, global start, length) of the level's four edge ranges."""
        n2e, n2 = self._n2e, self._n2
        return [
            (0, level * n2e, n2e),
            (n2e, (level + 1) * n2e, n2e),
            (2 * n2e, self._n_h + level * n2, n2),
            (2 * n2e + n2, self._n_h + self._n_v + level * n2e, n2e),
        ]

    def matvec(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum over each edge's elements of weight x value (length E)."""
        out = np.zeros(self.shape[0])
        for level, (start, stop, group) in enumerate(self._level_blocks):
            local = self._templates[group] @ values[start:stop]
            for at, to, length in self._ranges(level):
                out[to : to + length] += local[at : at + length]
        return out

    def rmatvec(self, edge_values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum over each element's edges of weight x edge value (length M)."""
        out = np.empty(self.shape[1])
        rows = self._templates[0].shape[0] if self._templates else 0
        local = np.empty(rows)
        for level, (start, stop, group) in enumerate(self._level_blocks):
            for at, to, length in self._ranges(level):
                local[at : at + length] = edge_values[to : to + length]
            out[start:stop] = self._transposed[group] @ local
        return out
