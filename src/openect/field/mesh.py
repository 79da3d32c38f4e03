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

import numpy as np
from numpy.typing import NDArray

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
    tets: NDArray[np.int64]
    #: Index into ``model.layers``, or ``len(model.layers)`` for the tumour.
    labels: NDArray[np.int64]
    #: Node indices of each conductor (surface and interior, down to its tip).
    conductor_nodes: list[NDArray[np.int64]]
    points2d: NDArray[np.float64]
    triangles2d: NDArray[np.int64]
    levels: NDArray[np.float64]
    #: For prism (level l, triangle t) at ``l * n_triangles + t``: its 3 tetrahedra (-1 = removed).
    prism_tets: NDArray[np.int64]

    @property
    def unknowns(self) -> int:
        """Number of nodes."""
        return len(self.points)


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
    a, b, c = ordered[:, 0], ordered[:, 1], ordered[:, 2]
    m2 = len(triangles)
    tets = np.empty((nl - 1, 3, m2, 4), dtype=np.int64)
    for level in range(nl - 1):
        lo, hi = level * n2, (level + 1) * n2
        tets[level, 0] = np.stack([a + lo, b + lo, c + lo, c + hi], axis=1)
        tets[level, 1] = np.stack([a + lo, b + lo, b + hi, c + hi], axis=1)
        tets[level, 2] = np.stack([a + lo, a + hi, b + hi, c + hi], axis=1)
    # Remove prisms inside a conductor above its tip.
    depth_of_owner = np.array([c.depth_mm for c in conductors] + [0.0])
    top_of_level = levels[1:]
    inside = (owners[None, :] >= 0) & (
        top_of_level[:, None] <= depth_of_owner[owners][None, :] + 1e-9
    )
    keep = np.repeat(~inside[:, None, :], 3, axis=1)
    prism_tets = np.full((nl - 1, 3, m2), -1, dtype=np.int64)
    prism_tets[keep] = np.arange(int(keep.sum()))
    tets = tets[keep]

    points = np.column_stack([np.tile(points2d, (nl, 1)), np.repeat(levels, n2)])
    conductor_nodes = []
    for k, conductor in enumerate(conductors):
        in_levels = np.nonzero(levels <= conductor.depth_mm + 1e-9)[0]
        nodes2d = np.nonzero(node_owner == k)[0]
        conductor_nodes.append((in_levels[:, None] * n2 + nodes2d[None, :]).ravel())

    labels = _labels(model, points[tets].mean(axis=1))
    used = np.zeros(len(points), dtype=bool)
    used[tets.ravel()] = True
    if not used.all():  # nodes strictly inside conductors
        renumber = np.cumsum(used) - 1
        tets = renumber[tets]
        conductor_nodes = [renumber[nodes[used[nodes]]] for nodes in conductor_nodes]
        points = points[used]
    return Mesh(
        points=points,
        tets=tets,
        labels=labels,
        conductor_nodes=conductor_nodes,
        points2d=points2d,
        triangles2d=triangles,
        levels=levels,
        prism_tets=prism_tets.transpose(0, 2, 1).reshape(-1, 3),
    )


def _labels(model: FieldModel, centroids: NDArray[np.float64]) -> NDArray[np.int64]:
    bottoms = np.array([layer.bottom_mm for layer in model.layers])
    labels = np.searchsorted(bottoms, centroids[:, 2], side="right").clip(0, len(bottoms) - 1)
    if model.tumour is not None:
        labels = np.where(model.tumour.contains(centroids), len(model.layers), labels)
    return labels.astype(np.int64)
