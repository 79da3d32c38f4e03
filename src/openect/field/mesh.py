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
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from openect.field import threads
from openect.field.extrusion import Extrusion, index_dtype
from openect.field.fem import P1Geometry, P1Space
from openect.field.geometry import FieldModel

#: Segments around a needle's circumference at the finest mesh size.
SEGMENTS_PER_NEEDLE = 16
#: Far-field in-plane size at most this many times the depth spacing (flat elements
#: slow the multigrid down).
COARSE_RATIO = 8.0
#: Growth of the depth spacing below the treated region.
DEPTH_GROWTH = 1.35


@dataclass
class Mesh:
    """Nodes (mm), tetrahedra, tissue label per tetrahedron, conductor nodes, and the
    extrusion structure used to locate points."""

    points: NDArray[np.float64]
    #: Index into ``model.layers``, or ``len(model.layers)`` for the tumour.
    labels: NDArray[np.int32]
    #: Node indices of each conductor (surface and interior, down to its tip).
    #: Interior nodes above the tip belong to no tetrahedron.
    conductor_nodes: list[NDArray[np.int64]]
    points2d: NDArray[np.float64]
    triangles2d: NDArray[np.int64]
    levels: NDArray[np.float64]
    #: For prism (level l, triangle t) at ``l * n_triangles + t``: its 3 tetrahedra (-1 = removed).
    prism_tets: NDArray[np.int32]
    #: (E, 2) node pairs of the mesh edges.
    edges: NDArray[np.int64]
    #: CSR structure of K, its data the index of each entry in the edge values
    #: (:meth:`openect.field.fem.P1Space.edge_values`).
    pattern: sp.csr_matrix
    #: Volumes of the tetrahedra, and their gradients and edge weights when asked for.
    geometry: P1Geometry
    #: For each node: its 2-D node (column) and its depth level (index into ``levels``).
    columns: NDArray[np.int64]
    node_levels: NDArray[np.int64]
    #: Nodes of the tetrahedra (``points`` also holds the nodes strictly inside
    #: conductors, which belong to none).
    used_nodes: int
    #: The tetrahedra as prisms of the 2-D triangles between levels.
    extrusion: Extrusion

    @property
    def unknowns(self) -> int:
        """Number of nodes of the tetrahedra."""
        return self.used_nodes

    @cached_property
    def tets(self) -> NDArray[np.int32]:
        """(M, 4) nodes of each tetrahedron (made when first asked for)."""
        return self.extrusion.tets()

    @cached_property
    def tet_edges(self) -> NDArray[np.int32]:
        """(M, 6) the edge of each tetrahedron's local edges, in the order of
        :data:`openect.field.fem.LOCAL_EDGES` (made when first asked for)."""
        return self.extrusion.tet_edges()

    def space(self) -> P1Space:
        """The P1 space of the mesh, assembled level by level."""
        return P1Space(
            geometry=self.geometry,
            volumes=self.geometry.volumes,
            edges=self.edges,
            pattern=self.pattern,
            assembly=self.extrusion.assembly,
            element_nodes=lambda: self.tets,
        )


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
    extrusion = Extrusion(points2d, ordered, levels, inside, numbering)
    labels = threads.empty(extrusion.size, dtype=np.int32)
    for block in extrusion.blocks():
        labels[block.start : block.stop] = _labels(model, extrusion.centroids(block))
    geometry = P1Geometry(
        extrusion.volumes(), extrusion.edge_weights, gradients_of=extrusion.gradients_of
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
        labels=labels,
        conductor_nodes=conductor_nodes,
        points2d=points2d,
        triangles2d=triangles,
        levels=levels,
        prism_tets=extrusion.prism_tets().reshape(-1, 3),
        edges=edges,
        pattern=pattern,
        geometry=geometry,
        columns=columns,
        node_levels=node_levels,
        used_nodes=used_nodes,
        extrusion=extrusion,
    )


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
