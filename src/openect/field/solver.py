"""Linear and non-linear solves, one electrode pair at a time.

Each pair fixes its positive conductors at +U/2 and its negative ones at -U/2;
conductors not in the pair float (one unknown potential each, no net current). The
linear system is solved by conjugate gradients preconditioned with a smoothed
aggregation AMG hierarchy (:mod:`openect.field.amg`), built once per pair and reused over the Picard
iterations while it stays effective (rebuilt when CG needs more than REBUILD_FACTOR
times the iterations of a fresh hierarchy). The conductivity is updated by damped
Picard iteration, sigma <- sigma + w (sigma(E) - sigma), with w per element, halved
where the update changes sign (an oscillating element) and recovering elsewhere,
until the relative conductivity change (volume-weighted L2 norm) is below PICARD_TOL,
or the pair's current has settled (CURRENT_TOL) with the change below 10 x PICARD_TOL.
Across pairs the conductivity never decreases (monotone memory) and the treatment
field is the pointwise maximum over pairs. Non-convergence is reported, never hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import LinearOperator, cg

from openect.field import threads
from openect.field.amg import Hierarchy
from openect.field.conductivity import SigmaModel, TissueParameters, conductivity
from openect.field.electrodes import Pair
from openect.field.fem import P1Space
from openect.field.threads import RowBlocks, blas_on_one_thread

#: Relative residual of the linear solves.
LINEAR_RTOL = 1e-8
#: Loosest relative residual of the linear solves inside the Picard iteration (they are
#: tightened with the conductivity change, down to LINEAR_RTOL).
PICARD_RTOL = 1e-4
#: Relative conductivity change at convergence of the Picard iteration: the
#: volume-weighted L2 norm of the update over that of the conductivity.
PICARD_TOL = 1e-3
#: Also converged when the pair's current changed by less than this (relative) over the
#: last two iterations while the conductivity change is below 10 x PICARD_TOL: the
#: update then only moves a few elements to and fro across a threshold.
CURRENT_TOL = 1e-4
#: Damping of the Picard update, per element: halved (down to MIN_DAMPING) where the
#: update changes sign (an oscillating element), raised by a quarter (up to
#: PICARD_DAMPING) elsewhere.
PICARD_DAMPING = 0.5
MIN_DAMPING = 0.02
#: Rebuild the AMG hierarchy when CG needs this many times the iterations per decade of
#: residual reduction it needed with a fresh hierarchy.
REBUILD_FACTOR = 1.5
#: Most Picard iterations per pair.
PICARD_MAX_ITERATIONS = 40


@dataclass
class PairSolution:
    """Result of one pair: field per element (V/cm), current (A), convergence record."""

    field: NDArray[np.float64]
    potential: NDArray[np.float64]
    current_a: float
    #: Current entering the negative conductors (A, negative); equal and opposite to
    #: ``current_a`` when charge is conserved.
    current_in_a: float
    converged: bool
    iterations: int
    changes: list[float] = default(default_factory=list)
    cg_iterations: list[int] = default(default_factory=list)
    seconds: float = 0.0


class PairSystem:
    """The reduced linear system of one pair: fixed, free and floating unknowns.

    The reduced matrix P^T K P, its right-hand side -P^T K phi_fixed and the conductor
    currents are gathered straight from the space's edge values (off-diagonal per edge,
    diagonal per node) by index plans made once per pair, so that K itself is never
    formed inside the Picard iteration."""

    def __init__(
        self, space: P1Space, conductor_nodes: list[NDArray[np.int64]], pair: Pair
    ) -> None:
        n_nodes = space.n
        dof = np.full(n_nodes, -1, dtype=np.int64)
        self.fixed_value = np.zeros(n_nodes)
        fixed = np.zeros(n_nodes, dtype=bool)
        for index in pair.positive:
            fixed[conductor_nodes[index]] = True
            self.fixed_value[conductor_nodes[index]] = pair.voltage_v / 2
        for index in pair.negative:
            fixed[conductor_nodes[index]] = True
            self.fixed_value[conductor_nodes[index]] = -pair.voltage_v / 2
        free_nodes = ~fixed
        floating = [
            k for k in range(len(conductor_nodes)) if k not in pair.positive + pair.negative
        ]
        for k in floating:
            free_nodes[conductor_nodes[k]] = False
        n_free = int(free_nodes.sum())
        dof[free_nodes] = np.arange(n_free)
        for j, k in enumerate(floating):
            dof[conductor_nodes[k]] = n_free + j
        self.n_dof = n_free + len(floating)
        self.n_free = n_free
        self.fixed = fixed
        self.dof = dof
        self.unknown_nodes = np.nonzero(~fixed)[0]
        self._unknown_dof = dof[self.unknown_nodes]
        self._nodes_per_dof = np.bincount(self._unknown_dof, minlength=self.n_dof)
        self.hierarchy: Hierarchy | None = None
        self.fresh_rate = 0.0
        self.last_rate = 0.0
        # Gather plan (made by _plan): reduced entries from edge values.
        self._direct_positions = np.zeros(0, dtype=np.int64)
        self._merged_source = np.zeros(0, dtype=np.int64)
        self._merged_targets = np.zeros(0, dtype=np.int64)
        self._merged_positions = np.zeros(0, dtype=np.int64)
        # Without floating conductors, fixed nodes stay in the system as identity rows
        # (their couplings moved to the right-hand side): K's own pattern, no gather
        # plan over all of K's entries.
        self.eliminated = not floating
        if self.eliminated:
            self._elimination_plan(space)
        else:
            self._plan(space)
        positive = np.concatenate([conductor_nodes[i] for i in pair.positive])
        negative = np.concatenate([conductor_nodes[i] for i in pair.negative])
        self._positive = self._flux_plan(space, positive)
        self._negative = self._flux_plan(space, negative)

    def _plan(self, space: P1Space) -> None:
        """Where each entry of the reduced matrix and right-hand side comes from in the
        edge values. K's column indices are sorted, and free unknowns keep the node
        order, so entries between free nodes map one to one in K's order; entries
        touching a floating conductor are summed (its nodes share one unknown, numbered
        last). The two sorted runs are merged by a stable sort, in linear time."""
        pattern = space.pattern
        rows = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), np.diff(pattern.indptr))
        columns = pattern.indices.astype(np.int64)
        row_dof, col_dof = self.dof[rows], self.dof[columns]
        kept = (row_dof >= 0) & (col_dof >= 0)
        direct = kept & (row_dof < self.n_free) & (col_dof < self.n_free)
        direct_entries = np.nonzero(direct)[0]
        merged_entries = np.nonzero(kept & ~direct)[0]
        source = space.source
        self._merged_plan(row_dof, col_dof, direct_entries, merged_entries, source)
        # Right-hand side: couplings of unknown rows to fixed columns.
        coupled = np.nonzero((row_dof >= 0) & self.fixed[columns])[0]
        self._rhs_dof = row_dof[coupled]
        self._rhs_source = source[coupled]
        self._rhs_value = self.fixed_value[columns[coupled]]

    def _merged_plan(
        self,
        row_dof: NDArray[np.int64],
        col_dof: NDArray[np.int64],
        direct_entries: NDArray[np.int64],
        merged_entries: NDArray[np.int64],
        source: NDArray[np.int64],
    ) -> None:
        merged_keys, merged_targets = np.unique(
            row_dof[merged_entries] * self.n_dof + col_dof[merged_entries], return_inverse=True
        )
        keys = np.concatenate(
            [row_dof[direct_entries] * self.n_dof + col_dof[direct_entries], merged_keys]
        )
        order = np.argsort(keys, kind="stable")
        positions = np.empty(len(keys), dtype=np.int64)
        positions[order] = np.arange(len(keys))
        keys = keys[order]
        self._indptr = np.searchsorted(keys // self.n_dof, np.arange(self.n_dof + 1)).astype(
            np.int32
        )
        self._indices = (keys % self.n_dof).astype(np.int32)
        self._direct_source = source[direct_entries]
        self._direct_positions = positions[: len(direct_entries)]
        self._merged_source = source[merged_entries]
        self._merged_targets = merged_targets.ravel()
        self._merged_positions = positions[len(direct_entries) :]

    def _elimination_plan(self, space: P1Space) -> None:
        """Symmetric elimination of the fixed nodes in K's own pattern: the entries of
        their rows and columns are set to zero, their diagonal to one, and the
        right-hand side carries -K[free, fixed] phi_fixed on the free rows and
        phi_fixed on the fixed ones. Only the fixed rows' entries are visited: the
        position of each transposed entry (j, i) is found in row j (K is symmetric in
        pattern, its column indices sorted)."""
        pattern = space.pattern
        n = pattern.shape[0]
        self.n_dof = n
        fixed_nodes = np.flatnonzero(self.fixed)
        starts, stops = pattern.indptr[fixed_nodes], pattern.indptr[fixed_nodes + 1]
        counts = (stops - starts).astype(np.int64)
        row_entries = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(
            counts.sum()
        )
        row_of = np.repeat(fixed_nodes, counts)
        column_of = pattern.indices[row_entries].astype(np.int64)
        # (j, i) for each entry (i, j) of a fixed row i: scan row j for column i.
        first = pattern.indptr[column_of].astype(np.int64)
        length = pattern.indptr[column_of + 1] - first
        query = np.repeat(np.arange(len(row_entries)), length)
        candidate = np.repeat(first - np.cumsum(length) + length, length) + np.arange(length.sum())
        hit = pattern.indices[candidate] == row_of[query]
        transposed = np.empty(len(row_entries), dtype=np.int64)
        transposed[query[hit]] = candidate[hit]
        self._zeroed = np.union1d(row_entries, transposed)
        self._fixed_diagonal = row_entries[row_of == column_of]
        # Couplings of free rows to fixed columns, for the right-hand side.
        coupling = ~self.fixed[column_of]
        self._rhs_dof = column_of[coupling]
        self._rhs_source = space.source[transposed[coupling]]
        self._rhs_value = self.fixed_value[row_of[coupling]]
        self._source = space.source
        self._indices = pattern.indices
        self._indptr = pattern.indptr

    @staticmethod
    def _flux_plan(
        space: P1Space, nodes: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Edge-value index and column of every entry of K in the rows of ``nodes``."""
        pattern = space.pattern
        starts, stops = pattern.indptr[nodes], pattern.indptr[nodes + 1]
        counts = stops - starts
        entries = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return space.source[entries], pattern.indices[entries].astype(np.int64)

    def reduce(self, values: NDArray[np.float64]) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
        """The reduced matrix P^T K P and right-hand side -P^T K phi_fixed for K's edge
        values (:meth:`openect.field.fem.P1Space.edge_values`)."""
        if self.eliminated:
            data = threads.take(values, self._source)
            data[self._zeroed] = 0.0
            data[self._fixed_diagonal] = 1.0
        else:
            data = np.empty(len(self._indices))
            data[self._direct_positions] = values[self._direct_source]
            data[self._merged_positions] = np.bincount(
                self._merged_targets,
                weights=values[self._merged_source],
                minlength=len(self._merged_positions),
            )
        a = sp.csr_matrix((data, self._indices, self._indptr), shape=(self.n_dof, self.n_dof))
        rhs = -np.bincount(
            self._rhs_dof,
            weights=values[self._rhs_source] * self._rhs_value,
            minlength=self.n_dof,
        ).astype(np.float64)
        if self.eliminated:
            rhs[self.fixed] = self.fixed_value[self.fixed]
        return a, rhs

    def expand(self, solution: NDArray[np.float64]) -> NDArray[np.float64]:
        """Node potentials (V) from the reduced unknowns (fixed nodes at their value)."""
        if self.eliminated:
            potential = np.array(solution, dtype=np.float64)
            potential[self.fixed] = self.fixed_value[self.fixed]
            return potential
        potential = self.fixed_value.copy()
        potential[self.unknown_nodes] = solution[self._unknown_dof]
        return potential

    def restrict(self, potential: NDArray[np.float64]) -> NDArray[np.float64]:
        """Reduced unknowns from node potentials (V): a floating conductor's mean."""
        if self.eliminated:
            return np.array(potential, dtype=np.float64)
        sums = np.bincount(
            self._unknown_dof, weights=potential[self.unknown_nodes], minlength=self.n_dof
        )
        return np.asarray(sums / np.maximum(self._nodes_per_dof, 1), dtype=np.float64)

    def solve(
        self,
        values: NDArray[np.float64],
        guess: NDArray[np.float64] | None,
        rtol: float = 1e-8,
        rebuild: bool = False,
    ) -> tuple[NDArray[np.float64], int]:
        """Node potentials (V) and CG iterations for K's edge values (mS), to the
        relative residual ``rtol``; ``rebuild`` makes a fresh AMG hierarchy."""
        a, rhs = self.reduce(values)
        if (
            self.hierarchy is None
            or rebuild
            or (self.fresh_rate and self.last_rate > REBUILD_FACTOR * self.fresh_rate)
        ):
            self.hierarchy = Hierarchy(a)
            self.fresh_rate = 0.0
        preconditioner: LinearOperator = self.hierarchy.preconditioner()
        count = [0]

        def step(_: NDArray[np.float64]) -> None:
            count[0] += 1

        x0 = None if guess is None else self.restrict(guess)
        with blas_on_one_thread():
            solution, info = cg(
                RowBlocks(a).operator(), rhs, x0=x0, rtol=rtol, atol=0.0, M=preconditioner,
                maxiter=1000, callback=step,
            )  # fmt: skip
        if info != 0:
            raise RuntimeError(f"CG did not converge in {count[0]} iterations (info {info})")
        potential = self.expand(solution)
        # CG iterations per decade of residual reduction, comparable across tolerances.
        rate = count[0] / max(1.0, -np.log10(rtol))
        if not self.fresh_rate:
            self.fresh_rate = rate
        self.last_rate = rate
        return potential, count[0]

    def current_a(
        self, values: NDArray[np.float64], potential: NDArray[np.float64], positive: bool = True
    ) -> float:
        """Current leaving the positive (or entering the negative) conductors (A): the
        flux K phi summed on their nodes."""
        source, columns = self._positive if positive else self._negative
        return float(np.dot(values[source], potential[columns]) * 1e-3)


def solve_pairs(
    space: P1Space,
    conductor_nodes: list[NDArray[np.int64]],
    pairs: tuple[Pair, ...],
    tissues: list[TissueParameters],
    labels: NDArray[np.integer[Any]],
    model: SigmaModel,
    progress: object | None = None,
    initial_memory: NDArray[np.float64] | None = None,
    picard_tol: float = PICARD_TOL,
) -> tuple[list[PairSolution], NDArray[np.float64], NDArray[np.float64]]:
    """Solve every pair in sequence; return the pair solutions, the maximum field over
    pairs (V/cm) and the final conductivity (S/m) per element. ``initial_memory``
    (S/m per element) is the conductivity left by earlier pulses (monotone memory): the
    conductivity starts at the larger of it and the tissue's sigma0. ``picard_tol``
    replaces PICARD_TOL."""
    sigma0 = np.array([t.sigma0 for t in tissues])[labels]
    if initial_memory is not None:
        sigma0 = np.maximum(sigma0, initial_memory)
    volumes = space.volumes
    members = [np.flatnonzero(labels == index) for index in range(len(tissues))]
    memory = sigma0.copy()
    field_max = np.zeros(len(labels))
    solutions = []
    for pair in pairs:
        started = time.perf_counter()
        system = PairSystem(space, conductor_nodes, pair)
        sigma = memory.copy()
        potential: NDArray[np.float64] | None = None
        changes: list[float] = []
        cg_counts: list[int] = []
        currents: list[float] = []
        converged = False
        damping = np.full(len(labels), PICARD_DAMPING)
        previous_step: NDArray[np.float64] | None = None
        e = np.zeros(len(labels))
        for _iteration in range(1, PICARD_MAX_ITERATIONS + 1):
            values = space.edge_values(sigma)
            # Inexact Picard: early iterations need only a rough potential.
            if model is SigmaModel.CONSTANT:
                rtol = LINEAR_RTOL
            else:
                rtol = (
                    PICARD_RTOL
                    if not changes
                    else min(PICARD_RTOL, max(LINEAR_RTOL, 1e-2 * changes[-1]))
                )
            # The first update moves the conductivity far from where it started: a
            # hierarchy built for the start would cost more CG iterations than a new one.
            potential, iterations = system.solve(values, potential, rtol, rebuild=len(changes) == 1)
            cg_counts.append(iterations)
            e = space.field_magnitude(potential)
            if model is SigmaModel.CONSTANT:
                converged = True
                changes.append(0.0)
                break
            currents.append(system.current_a(values, potential))
            target = np.maximum(_sigma_of(model, tissues, members, e), memory)
            step = target - sigma
            change = float(np.sqrt(np.sum(volumes * step**2) / np.sum(volumes * sigma**2)))
            changes.append(change)
            settled = len(currents) >= 3 and all(
                abs(currents[-k] / currents[-k - 1] - 1) < CURRENT_TOL for k in (1, 2)
            )
            if change < picard_tol or (settled and change < 10 * picard_tol):
                converged = True
                break
            if previous_step is not None:
                # Elements whose update changes sign oscillate: damp them harder.
                flipped = step * previous_step < 0
                damping = np.where(
                    flipped,
                    np.maximum(damping / 2, MIN_DAMPING),
                    np.minimum(damping * 1.25, PICARD_DAMPING),
                )
            previous_step = step
            sigma = sigma + damping * step
        assert potential is not None
        if model is not SigmaModel.CONSTANT:
            # Final potential for the final conductivity, to the full tolerance.
            values = space.edge_values(sigma)
            potential, iterations = system.solve(values, potential, LINEAR_RTOL)
            cg_counts.append(iterations)
            e = space.field_magnitude(potential)
        solutions.append(
            PairSolution(
                field=e,
                potential=potential,
                current_a=system.current_a(values, potential),
                current_in_a=system.current_a(values, potential, positive=False),
                converged=converged,
                iterations=len(cg_counts),
                changes=changes,
                cg_iterations=cg_counts,
                seconds=time.perf_counter() - started,
            )
        )
        memory = np.maximum(memory, sigma)
        field_max = np.maximum(field_max, e)
        if progress is not None and callable(progress):
            progress()
    return solutions, field_max, memory


def _sigma_of(
    model: SigmaModel,
    tissues: list[TissueParameters],
    members: list[NDArray[np.int64]],
    e: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Conductivity (S/m) per element for the field ``e`` (V/cm); ``members`` holds the
    elements of each tissue."""
    sigma = np.empty(len(e))
    for tissue, elements in zip(tissues, members, strict=True):
        sigma[elements] = conductivity(model, tissue, e[elements])
    return sigma
