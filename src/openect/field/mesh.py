"""Conforming tetrahedral mesh by extrusion of a 2-D triangulation over depth levels.

Conductors stand vertically, so the geometry is prismatic in z: a 2-D mesh (gmsh) of
the block's top face resolves every needle with its real circular cross-section and
every plate with its rectangle, refined around them; it is extruded over depth levels
that include every layer interface and conductor tip, and each prism is split into
three tetrahedra by the global vertex order (so that neighbouring prisms agree on
their shared faces). Tetrahedra inside a conductor, above its tip, are removed: the
conductor surface is the mesh boundary there and carries the electrode potential.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from openect.field import threads
from openect.field.fem import LOCAL_EDGES, P1Geometry
from openect.field.geometry import FieldModel

#: Segments around a needle's circumference at the finest mesh size.
SEGMENTS_PER_NEEDLE = 16
#: Far-field in-plane size at most this many times the depth spacing (flat elements
#: slow the multigrid down).
COARSE_RATIO = 8.0
#: Growth of the depth spacing below the treated region.
DEPTH_GROWTH = 1.35

#: The three tetrahedra of a prism with sorted triangle a < b < c between a lower and an
#: upper level: (corner 0 = a, 1 = b, 2 = c; level 0 = lower, 1 = upper) per vertex:
#: [a b c c'], [a b b' c'], [a a' b' c'] (primes upper). Neighbouring prisms split their
#: shared faces alike because the split follows the global vertex order.
_PRISM_SPLIT = np.array(
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


@dataclass
class Mesh:
    """Nodes (mm), tetrahedra, tissue label per tetrahedron, conductor nodes, and the
    extrusion structure used to locate points."""

    points: NDArray[np.float64]
    tets: NDArray[np.int64]
    #: Index into ``model.layers``, or ``len(model.layers)`` for the tumour.
    labels: NDArray[np.int32]
    #: Node indices of each conductor (surface and interior, down to its tip).
    #: Interior nodes above the tip belong to no tetrahedron.
    conductor_nodes: list[NDArray[np.int64]]
    points2d: NDArray[np.float64]
    triangles2d: NDArray[np.int64]
    levels: NDArray[np.float64]
    #: For prism (level l, triangle t) at ``l * n_triangles + t``: its 3 tetrahedra (-1 = removed).
    prism_tets: NDArray[np.int64]
    #: (E, 2) node pairs of the mesh edges, and (M, 6) the edge of each tetrahedron's
    #: local edges in the order of :data:`openect.field.fem.LOCAL_EDGES`.
    edges: NDArray[np.int64]
    tet_edges: NDArray[np.int64]
    #: CSR structure of K, its data the index of each entry in the edge values
    #: (:meth:`openect.field.fem.P1Space.edge_values`).
    pattern: sp.csr_matrix
    #: Gradients, volumes and edge weights of the tetrahedra, from the extrusion.
    geometry: P1Geometry
    #: For each node: its 2-D node (column) and its depth level (index into ``levels``).
    columns: NDArray[np.int64]
    node_levels: NDArray[np.int64]
    #: Nodes of the tetrahedra (``points`` also holds the nodes strictly inside
    #: conductors, which belong to none).
    used_nodes: int

    @property
    def unknowns(self) -> int:
        """Number of nodes of the tetrahedra."""
        return self.used_nodes


def index_dtype(count: int) -> type[np.signedinteger[Any]]:
    """Integer type for numbers below ``count``: 32 bits when they fit."""
    return np.int32 if count < 2**31 - 1 else np.int64


def depth_levels(model: FieldModel, spacing_mm: float) -> NDArray[np.float64]:
    """Depth levels (mm): uniform ``spacing`` through the treated depth, every interface
    exact, then growing by ``DEPTH_GROWTH`` to the bottom."""
    fine_to = min(model.deepest_mm() + 2 * spacing_mm + 1.0, model.depth_mm)
    n = max(1, math.ceil(fine_to / spacing_mm))
    levels = list(np.linspace(0.0, fine_to, n + 1))
    step = spacing_mm
    z = fine_to
    while z < model.depth_mm - 1e-9:
        step *= DEPTH_GROWTH
        z = min(z + step, model.depth_mm)
        if model.depth_mm - z < step / 2:
            z = model.depth_mm
        levels.append(z)
    for interface in model.interfaces_mm():
        nearest = min(levels, key=lambda value: abs(value - interface))
        if abs(nearest - interface) < 0.3 * spacing_mm:
            levels[levels.index(nearest)] = interface
        else:
            levels.append(interface)
    return np.array(sorted(set(levels)))


def triangulate(
    model: FieldModel, resolution_mm: float
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """2-D mesh of the block's top face: points (mm), triangles, and for each triangle
    the conductor it lies in (-1 for tissue)."""
    import gmsh

    width = model.half_width_mm
    conductors = model.electrode.conductors
    started_here = not gmsh.isInitialized()
    if started_here:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("openect-field")
    try:
        occ = gmsh.model.occ
        block = occ.addRectangle(-width, -width, 0, 2 * width, 2 * width)
        tools = []
        for c in conductors:
            if c.shape == "disk":
                tools.append(occ.addDisk(c.x_mm, c.y_mm, 0, c.radius_mm, c.radius_mm))
            else:
                tools.append(
                    occ.addRectangle(
                        c.x_mm - c.half_x_mm,
                        c.y_mm - c.half_y_mm,
                        0,
                        2 * c.half_x_mm,
                        2 * c.half_y_mm,
                    )
                )
        _, pieces = occ.fragment([(2, block)], [(2, t) for t in tools])
        occ.synchronize()
        # pieces[0]: what the block became; pieces[1 + k]: what conductor k became.
        surface_owner = {tag: -1 for _, tag in pieces[0]}
        for k, conductor_pieces in enumerate(pieces[1:]):
            for _, tag in conductor_pieces:
                surface_owner[tag] = k
        conductor_curves = [
            tag
            for surface, owner in surface_owner.items()
            if owner >= 0
            for _, tag in gmsh.model.getBoundary([(2, surface)], oriented=False)
        ]
        fine = min(
            [resolution_mm / 2]
            + [
                2 * math.pi * c.radius_mm / SEGMENTS_PER_NEEDLE
                for c in conductors
                if c.shape == "disk"
            ]
        )
        coarse = max(resolution_mm, min(width / 6, COARSE_RATIO * resolution_mm))
        extent = model.treated_extent_mm() + 2.0
        field = gmsh.model.mesh.field
        distance = field.add("Distance")
        field.setNumbers(distance, "CurvesList", conductor_curves)
        field.setNumber(distance, "Sampling", 200)
        near = field.add("Threshold")
        field.setNumber(near, "InField", distance)
        field.setNumber(near, "SizeMin", fine)
        field.setNumber(near, "SizeMax", coarse)
        field.setNumber(near, "DistMin", 0.05)
        field.setNumber(near, "DistMax", 8 * resolution_mm)
        region = field.add("Box")
        for key, value in {
            "VIn": resolution_mm, "VOut": coarse, "XMin": -extent, "XMax": extent,
            "YMin": -extent, "YMax": extent, "Thickness": width / 2,
        }.items():  # fmt: skip
            field.setNumber(region, key, value)
        smallest = field.add("Min")
        field.setNumbers(smallest, "FieldsList", [near, region])
        field.setAsBackgroundMesh(smallest)
        for option in (
            "Mesh.MeshSizeExtendFromBoundary",
            "Mesh.MeshSizeFromPoints",
            "Mesh.MeshSizeFromCurvature",
        ):
            gmsh.option.setNumber(option, 0)
        gmsh.option.setNumber("Mesh.Algorithm", 6)
        gmsh.model.mesh.generate(2)

        tags, coords, _ = gmsh.model.mesh.getNodes()
        index = np.zeros(int(tags.max()) + 1, dtype=np.int64)
        index[tags.astype(np.int64)] = np.arange(len(tags))
        points = coords.reshape(-1, 3)[:, :2].copy()
        triangles = []
        owners = []
        for surface, owner in surface_owner.items():
            types, _, nodes = gmsh.model.mesh.getElements(2, surface)
            for kind, node_tags in zip(types, nodes, strict=True):
                if kind != 2:  # 3-node triangles
                    continue
                tri = index[node_tags.astype(np.int64)].reshape(-1, 3)
                triangles.append(tri)
                owners.append(np.full(len(tri), owner, dtype=np.int64))
    finally:
        gmsh.model.remove()
        if started_here:
            gmsh.finalize()
    return points, np.concatenate(triangles), np.concatenate(owners)


def build_mesh(model: FieldModel, resolution_mm: float) -> Mesh:
    """The extruded tetrahedral mesh of ``model`` at ``resolution_mm`` in the treated region."""
    if not 0.02 <= resolution_mm <= 5:
        raise ValueError(f"resolution_mm={resolution_mm}: allowed 0.02 to 5 mm")
    points2d, triangles, owners = triangulate(model, resolution_mm)
    levels = depth_levels(model, resolution_mm)
    n2, nl = len(points2d), len(levels)
    conductors = model.electrode.conductors

    # Conductor membership of 2-D nodes: nodes of a conductor's triangles.
    node_owner = np.full(n2, -1, dtype=np.int64)
    for k in range(len(conductors)):
        node_owner[np.unique(triangles[owners == k])] = k

    ordered = np.sort(triangles, axis=1)
    # Prisms inside a conductor above its tip are removed.
    depth_of_owner = np.array([c.depth_mm for c in conductors] + [0.0])
    inside = (owners[None, :] >= 0) & (levels[1:, None] <= depth_of_owner[owners][None, :] + 1e-9)

    points = np.column_stack([np.tile(points2d, (nl, 1)), np.repeat(levels, n2)])
    columns = np.tile(np.arange(n2, dtype=np.int64), nl)
    node_levels = np.repeat(np.arange(nl, dtype=np.int64), n2)
    conductor_nodes = []
    for k, conductor in enumerate(conductors):
        in_levels = np.nonzero(levels <= conductor.depth_mm + 1e-9)[0]
        nodes2d = np.nonzero(node_owner == k)[0]
        conductor_nodes.append((in_levels[:, None] * n2 + nodes2d[None, :]).ravel())

    edges, numbering, edges2d = _extruded_edges(triangles, n2, nl)
    pattern = _extruded_pattern(edges2d, n2, nl)
    tets, tet_edges, prism_tets, geometry, labels = _extrude(
        model, points2d, ordered, levels, inside, numbering, len(edges)
    )
    # Nodes strictly inside a conductor above its tip belong to no tetrahedron; they
    # stay in the numbering (as conductor nodes they never become unknowns, and their
    # rows of K are empty), which saves renumbering every element array.
    in_tissue = np.zeros(n2, dtype=bool)
    in_tissue[triangles[owners < 0].ravel()] = True
    interior_owner = node_owner[(node_owner >= 0) & ~in_tissue]
    inside_levels = np.array(
        [int(np.sum(levels[1:] <= c.depth_mm + 1e-9)) for c in conductors] + [0]
    )
    # A node is in no tetrahedron when the prisms above and below it are both removed.
    isolated = np.where(inside_levels == nl - 1, nl, inside_levels)
    used_nodes = len(points) - int(isolated[interior_owner].sum())
    return Mesh(
        points=points,
        tets=tets,
        labels=labels,
        conductor_nodes=conductor_nodes,
        points2d=points2d,
        triangles2d=triangles,
        levels=levels,
        prism_tets=prism_tets.reshape(-1, 3),
        edges=edges,
        tet_edges=tet_edges,
        pattern=pattern,
        geometry=geometry,
        columns=columns,
        node_levels=node_levels,
        used_nodes=used_nodes,
    )


def _extrude(
    model: FieldModel,
    points2d: NDArray[np.float64],
    ordered: NDArray[np.int64],
    levels: NDArray[np.float64],
    inside: NDArray[np.bool_],
    numbering: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int],
    n_edges: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], P1Geometry, NDArray[np.int32]]:
    """The kept tetrahedra of the extrusion, level by level and split type by split
    type (so that every temporary is one level's size and the element arrays are
    written once): their nodes, their edges (in the order of ``LOCAL_EDGES``), the
    prism -> tetrahedra table (levels-1, triangles, 3), the P1 geometry and the tissue
    labels. Volumes and edge weights come from the 2-D triangles and the level
    spacings: every tetrahedron of a prism has the volume A h / 3 and gradients made of
    the triangle's 2-D gradients and +-1/h (made from them only where asked for).

    Edges are horizontal (a 2-D edge at a level), vertical (a 2-D node between two
    levels) or diagonal (2-D edge x < y from x at a level to y at the next), numbered
    in that order. For a prism with sorted triangle a < b < c between levels lo and
    hi, the three tetrahedra [a b c c'], [a b b' c'], [a a' b' c'] (primes at hi) have,
    in the order of ``LOCAL_EDGES``: H(ab) H(ac) D(ac) H(bc) D(bc) V(c); H(ab) D(ab)
    D(ac) V(b) D(bc) H'(bc); V(a) D(ab) D(ac) H'(ab) H'(ac) H'(bc).
    """
    n2, m2, nl = len(points2d), len(ordered), len(levels)
    a, b, c = ordered[:, 0], ordered[:, 1], ordered[:, 2]
    ab, ac, bc, n2e = numbering
    n_h, n_v = nl * n2e, (nl - 1) * n2
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
    area = np.abs(det) / 2
    in_plane = np.einsum("tvc,mcd->tmvd", _IN_PLANE, grad2)  # (3, m2, 4, 2)
    i = [i for i, _ in LOCAL_EDGES]
    j = [j for _, j in LOCAL_EDGES]
    w_plane = (
        np.einsum("tmkd,tmkd->tmk", in_plane[:, :, i], in_plane[:, :, j])
        * (area / 3)[None, :, None]
    )  # (3, m2, 6)
    w_z = _Z_PART[:, i] * _Z_PART[:, j]  # (3, 6), times A / (3 h)
    # Centroids: the mean of the four vertices.
    corners = np.stack([pa, pb, pc], axis=1)  # (m2, 3, 2)
    share = np.stack([np.bincount(_PRISM_SPLIT[t, :, 0], minlength=3) for t in range(3)]) / 4
    xy = np.einsum("tc,mcd->tmd", share, corners)  # (3, m2, 2)
    upper_share = _PRISM_SPLIT[:, :, 1].mean(axis=1)  # (3,)
    spacing = np.diff(levels)

    kept_triangles = [np.flatnonzero(~inside[level]) for level in range(nl - 1)]
    total = 3 * sum(len(t) for t in kept_triangles)
    # Node and edge numbers fit 32 bits below 2**31: half the memory, and the assembly
    # matrix takes the edge numbers as its indices without a copy.
    tets = threads.empty((total, 4), dtype=index_dtype(nl * n2))
    tet_edges = threads.empty((total, 6), dtype=index_dtype(n_edges))
    edge_weights = threads.empty((total, 6))
    volumes = threads.empty(total)
    labels = threads.empty(total, dtype=np.int32)
    # The tetrahedra come in blocks (level, type) of the level's kept triangles: the
    # block starts and those triangles, from which each tetrahedron's prism is found.
    block_starts = np.cumsum([0] + [len(t) for t in kept_triangles for _ in range(3)])
    level_starts = np.cumsum([0] + [len(t) for t in kept_triangles])
    kept_flat = np.concatenate(kept_triangles).astype(np.int32)
    prism_tets = np.full((nl - 1, m2, 3), -1, dtype=index_dtype(total))
    start = 0
    for level, triangles in enumerate(kept_triangles):
        k, h = len(triangles), spacing[level]
        nodes = (a[triangles], b[triangles], c[triangles])
        e_ab, e_ac, e_bc = ab[triangles], ac[triangles], bc[triangles]
        h_lo, h_hi = level * n2e, (level + 1) * n2e
        v = n_h + level * n2
        d = n_h + n_v + level * n2e
        kind_edges = (
            (h_lo + e_ab, h_lo + e_ac, d + e_ac, h_lo + e_bc, d + e_bc, v + nodes[2]),
            (h_lo + e_ab, d + e_ab, d + e_ac, v + nodes[1], d + e_bc, h_hi + e_bc),
            (v + nodes[0], d + e_ab, d + e_ac, h_hi + e_ab, h_hi + e_ac, h_hi + e_bc),
        )
        a_over_h = area[triangles] / (3 * h)
        for kind in range(3):
            rows = slice(start, start + k)
            for vertex, (corner, upper) in enumerate(_PRISM_SPLIT[kind]):
                tets[rows, vertex] = nodes[corner] + (level + upper) * n2
            for column, values in enumerate(kind_edges[kind]):
                tet_edges[rows, column] = values
            edge_weights[rows] = h * w_plane[kind, triangles] + w_z[kind] * a_over_h[:, None]
            volumes[rows] = a_over_h * h * h
            centroids = np.empty((k, 3))
            centroids[:, :2] = xy[kind, triangles]
            centroids[:, 2] = levels[level] + h * upper_share[kind]
            labels[rows] = _labels(model, centroids)
            prism_tets[level, triangles, kind] = np.arange(start, start + k)
            start += k

    def gradients_of(cells: NDArray[np.int64]) -> NDArray[np.float64]:
        block = np.searchsorted(block_starts, cells, side="right") - 1
        at_level, at_kind = np.divmod(block, 3)
        at_triangle = kept_flat[level_starts[at_level] + cells - block_starts[block]]
        gradients = np.empty((len(cells), 4, 3))
        gradients[..., :2] = in_plane[at_kind, at_triangle]
        gradients[..., 2] = _Z_PART[at_kind] / spacing[at_level][:, None]
        return gradients

    geometry = P1Geometry(volumes, edge_weights, gradients_of=gradients_of)
    return tets, tet_edges, prism_tets, geometry, labels


def _extruded_edges(
    triangles: NDArray[np.int64], n2: int, nl: int
) -> tuple[
    NDArray[np.int64],
    tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int],
    NDArray[np.int64],
]:
    """Edges of the extruded mesh from the 2-D edges, without sorting the elements:
    horizontal (each 2-D edge at each level), vertical (each 2-D node between two
    levels), then diagonal (2-D edge x < y from x at a level to y at the next), as node
    pairs (E, 2); the 2-D edge numbering (the edge of each sorted triangle's sides
    ab, ac, bc, and the number of 2-D edges) from which :func:`_extrude` numbers the
    edges of each tetrahedron; and the 2-D edges (x < y, sorted)."""
    ordered = np.sort(triangles, axis=1)
    a, b, c = ordered[:, 0], ordered[:, 1], ordered[:, 2]
    keys = np.concatenate([a * n2 + b, a * n2 + c, b * n2 + c])
    unique, inverse = np.unique(keys, return_inverse=True)
    m2 = len(triangles)
    inverse = inverse.ravel()
    ab, ac, bc = inverse[:m2], inverse[m2 : 2 * m2], inverse[2 * m2 :]
    e0, e1 = unique // n2, unique % n2
    n2e = len(unique)
    n_h, n_v = nl * n2e, (nl - 1) * n2
    # Written in place, level by level (no full-size temporaries).
    edges = threads.empty((n_h + n_v + (nl - 1) * n2e, 2), dtype=index_dtype(nl * n2))
    nodes = np.arange(n2)
    for level in range(nl):
        horizontal = edges[level * n2e : (level + 1) * n2e]
        horizontal[:, 0] = e0 + level * n2
        horizontal[:, 1] = e1 + level * n2
        if level == nl - 1:
            break
        vertical = edges[n_h + level * n2 : n_h + (level + 1) * n2]
        vertical[:, 0] = nodes + level * n2
        vertical[:, 1] = nodes + (level + 1) * n2
        diagonal = edges[n_h + n_v + level * n2e : n_h + n_v + (level + 1) * n2e]
        diagonal[:, 0] = e0 + level * n2
        diagonal[:, 1] = e1 + (level + 1) * n2
    return edges, (ab, ac, bc, len(unique)), np.column_stack([e0, e1])


def _extruded_pattern(edges2d: NDArray[np.int64], n2: int, nl: int) -> sp.csr_matrix:
    """CSR structure of K on the extruded mesh, from the 2-D edges, level by level
    (no sort over the 3-D entries); its data holds each entry's index in
    :meth:`openect.field.fem.P1Space.edge_values` (edge number, or E + node).

    The row of node p at level l holds, in column order: at level l-1, the 2-D
    neighbours q < p (diagonal edges from q) and p (vertical edge); at level l, the
    neighbours q < p, p itself (the diagonal entry) and the neighbours q > p
    (horizontal edges); at level l+1, p (vertical) and the neighbours q > p (diagonal
    edges to q). Every level's rows follow one template; the first level has no
    level below, the last none above."""
    n2e = len(edges2d)
    n_h, n_v = nl * n2e, (nl - 1) * n2
    n_edges = n_h + n_v + (nl - 1) * n2e
    n = nl * n2
    # 2-D adjacency, each node's neighbours sorted, with the 2-D edge of each.
    x, y = edges2d[:, 0], edges2d[:, 1]
    rows = np.concatenate([x, y])
    neighbours = np.concatenate([y, x])
    edge = np.tile(np.arange(n2e), 2)
    order = np.lexsort((neighbours, rows))
    rows, neighbours, edge = rows[order], neighbours[order], edge[order]
    below = neighbours < rows
    nodes = np.arange(n2)
    # Slot groups of a row, in column order: (2-D node of the row, group, column
    # relative to l * n2, source at l = 0, source step per level).
    groups = [
        (rows[below], neighbours[below] - n2, n_h + n_v - n2e + edge[below], n2e),
        (nodes, nodes - n2, n_h - n2 + nodes, n2),
        (rows[below], neighbours[below], edge[below], n2e),
        (nodes, nodes, n_edges + nodes, n2),
        (rows[~below], neighbours[~below], edge[~below], n2e),
        (nodes, nodes + n2, n_h + nodes, n2),
        (rows[~below], neighbours[~below] + n2, n_h + n_v + edge[~below], n2e),
    ]
    owner = np.concatenate([g[0] for g in groups])
    group = np.concatenate([np.full(len(g[0]), k) for k, g in enumerate(groups)])
    slots = np.lexsort((group, owner))  # stable: neighbours stay sorted
    owner, group = owner[slots], group[slots]
    column = np.concatenate([g[1] for g in groups])[slots]
    source = np.concatenate([g[2] for g in groups])[slots]
    step = np.concatenate([np.full(len(g[0]), g[3]) for g in groups])[slots]
    templates = {
        "first": group >= 2,
        "middle": np.ones(len(group), dtype=bool),
        "last": group <= 4,
    }
    counts = {key: np.bincount(owner[mask], minlength=n2) for key, mask in templates.items()}
    kinds = ["first"] + ["middle"] * (nl - 2) + ["last"]
    row_lengths = np.concatenate([counts[kind] for kind in kinds])
    index = index_dtype(max(n, n_edges + n))
    indptr = np.zeros(n + 1, dtype=index_dtype(int(row_lengths.sum())))
    np.cumsum(row_lengths, out=indptr[1:])
    indices = threads.empty(int(indptr[-1]), dtype=index)
    data = threads.empty(int(indptr[-1]), dtype=index)
    for level, kind in enumerate(kinds):
        mask = templates[kind]
        chunk = slice(indptr[level * n2], indptr[(level + 1) * n2])
        indices[chunk] = column[mask] + level * n2
        data[chunk] = source[mask] + level * step[mask]
    return sp.csr_matrix((data, indices, indptr), shape=(n, n))


def _labels(model: FieldModel, centroids: NDArray[np.float64]) -> NDArray[np.int64]:
    bottoms = np.array([layer.bottom_mm for layer in model.layers])
    labels = np.searchsorted(bottoms, centroids[:, 2], side="right").clip(0, len(bottoms) - 1)
    if model.tumour is not None:
        labels = np.where(model.tumour.contains(centroids), len(model.layers), labels)
    return labels.astype(np.int64)
