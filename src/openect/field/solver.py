"""Linear and non-linear solves, one electrode pair at a time.

Each pair fixes its positive conductors at +U/2 and its negative ones at -U/2;
conductors not in the pair float (one unknown potential each, no net current). The
linear system is solved by conjugate gradients preconditioned with a smoothed
aggregation AMG hierarchy (pyamg), built once per pair and reused over the Picard
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

import numpy as np
import pyamg
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import LinearOperator, cg

from openect.field.conductivity import SigmaModel, TissueParameters, conductivity
from openect.field.electrodes import Pair
from openect.field.fem import P1Space

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


def hierarchy(a: sp.csr_matrix) -> pyamg.multilevel.MultilevelSolver:
    """Smoothed aggregation AMG hierarchy for the SPD matrix ``a``, with its coarse
    levels stored as CSR: pyamg keeps them as BSR with 1 x 1 blocks, whose Gauss-Seidel
    sweeps cost several times those of CSR on the same matrix. The hierarchy is the same
    on every run."""
    # pyamg starts its spectral radius estimates from random vectors (numpy's global
    # generator): seed it here, and restore it after, so that results repeat exactly.
    state = np.random.get_state()
    np.random.seed(0)
    try:
        solver = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
    finally:
        np.random.set_state(state)
    for level in solver.levels:
        level.A = sp.csr_matrix(level.A)
        for name in ("P", "R"):
            if hasattr(level, name):
                setattr(level, name, sp.csr_matrix(getattr(level, name)))
    return solver


class PairSystem:
    """The reduced linear system of one pair: fixed, free and floating unknowns."""

    def __init__(self, n_nodes: int, conductor_nodes: list[NDArray[np.int64]], pair: Pair) -> None:
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
        self.fixed = fixed
        self.positive_nodes = np.concatenate([conductor_nodes[i] for i in pair.positive])
        self.negative_nodes = np.concatenate([conductor_nodes[i] for i in pair.negative])
        unknown = ~fixed
        self.dof = dof
        self.unknown_nodes = np.nonzero(unknown)[0]
        self.prolong = sp.csr_matrix(
            (np.ones(len(self.unknown_nodes)), (self.unknown_nodes, dof[unknown])),
            shape=(n_nodes, self.n_dof),
        )
        self.hierarchy: pyamg.multilevel.MultilevelSolver | None = None
        self.fresh_rate = 0.0
        self.last_rate = 0.0
        # Gather plan of P^T K P from K's data, made on the first solve.
        self._gather: sp.csr_matrix | None = None
        self._reduced: sp.csr_matrix | None = None

    def reduce(self, stiffness: sp.csr_matrix) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
        """The reduced matrix P^T K P and right-hand side -P^T K phi_fixed, gathered from
        K's data by a plan made once (K's pattern is fixed for a mesh)."""
        if self._gather is None:
            rows = np.repeat(
                np.arange(stiffness.shape[0], dtype=np.int64), np.diff(stiffness.indptr)
            )
            row_dof, col_dof = self.dof[rows], self.dof[stiffness.indices]
            entries = np.nonzero((row_dof >= 0) & (col_dof >= 0))[0]
            keys = row_dof[entries] * self.n_dof + col_dof[entries]
            unique, targets = np.unique(keys, return_inverse=True)
            indptr = np.searchsorted(unique // self.n_dof, np.arange(self.n_dof + 1))
            self._reduced = sp.csr_matrix(
                (np.zeros(len(unique)), (unique % self.n_dof).astype(np.int32), indptr),
                shape=(self.n_dof, self.n_dof),
            )
            # Reduced data = gather @ K data (sums the entries merged by a floating conductor).
            self._gather = sp.csr_matrix(
                (np.ones(len(entries)), (targets, entries)),
                shape=(len(unique), stiffness.nnz),
            )
        assert self._gather is not None
        assert self._reduced is not None
        a = self._reduced.copy()
        a.data = self._gather @ stiffness.data
        flux = stiffness @ self.fixed_value
        rhs = np.bincount(
            self.dof[self.unknown_nodes],
            weights=-flux[self.unknown_nodes],
            minlength=self.n_dof,
        ).astype(np.float64)
        return a, rhs

    def solve(
        self,
        stiffness: sp.csr_matrix,
        guess: NDArray[np.float64] | None,
        rtol: float = 1e-8,
        rebuild: bool = False,
    ) -> tuple[NDArray[np.float64], int]:
        """Node potentials (V) and CG iterations for the stiffness matrix (mS), to the
        relative residual ``rtol``; ``rebuild`` makes a fresh AMG hierarchy."""
        p = self.prolong
        a, rhs = self.reduce(stiffness)
        if (
            self.hierarchy is None
            or rebuild
            or (self.fresh_rate and self.last_rate > REBUILD_FACTOR * self.fresh_rate)
        ):
            self.hierarchy = hierarchy(a)
            self.fresh_rate = 0.0
        preconditioner: LinearOperator = self.hierarchy.aspreconditioner(cycle="V")
        count = [0]

        def step(_: NDArray[np.float64]) -> None:
            count[0] += 1

        x0 = None if guess is None else (p.T @ guess) / np.maximum(p.T @ np.ones(len(guess)), 1)
        solution, info = cg(
            a, rhs, x0=x0, rtol=rtol, atol=0.0, M=preconditioner, maxiter=1000, callback=step
        )
        if info != 0:
            raise RuntimeError(f"CG did not converge in {count[0]} iterations (info {info})")
        potential = self.fixed_value + p @ solution
        # CG iterations per decade of residual reduction, comparable across tolerances.
        rate = count[0] / max(1.0, -np.log10(rtol))
        if not self.fresh_rate:
            self.fresh_rate = rate
        self.last_rate = rate
        return potential, count[0]

    def current_a(
        self, stiffness: sp.csr_matrix, potential: NDArray[np.float64], nodes: NDArray[np.int64]
    ) -> float:
        """Current leaving conductor ``nodes`` (A): the flux K phi summed on them."""
        return float((stiffness @ potential)[nodes].sum() * 1e-3)


def solve_pairs(
    space: P1Space,
    conductor_nodes: list[NDArray[np.int64]],
    pairs: tuple[Pair, ...],
    tissues: list[TissueParameters],
    labels: NDArray[np.int64],
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
    memory = sigma0.copy()
    field_max = np.zeros(len(labels))
    n_nodes = space.n
    solutions = []
    for pair in pairs:
        started = time.perf_counter()
        system = PairSystem(n_nodes, conductor_nodes, pair)
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
            stiffness = space.stiffness(sigma)
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
            potential, iterations = system.solve(
                stiffness, potential, rtol, rebuild=len(changes) == 1
            )
            cg_counts.append(iterations)
            e = np.linalg.norm(space.field(potential), axis=1)
            if model is SigmaModel.CONSTANT:
                converged = True
                changes.append(0.0)
                break
            currents.append(system.current_a(stiffness, potential, system.positive_nodes))
            target = np.maximum(_sigma_of(model, tissues, labels, e), memory)
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
            stiffness = space.stiffness(sigma)
            potential, iterations = system.solve(stiffness, potential, LINEAR_RTOL)
            cg_counts.append(iterations)
            e = np.linalg.norm(space.field(potential), axis=1)
        solutions.append(
            PairSolution(
                field=e,
                potential=potential,
                current_a=system.current_a(stiffness, potential, system.positive_nodes),
                current_in_a=system.current_a(stiffness, potential, system.negative_nodes),
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
    labels: NDArray[np.int64],
    e: NDArray[np.float64],
) -> NDArray[np.float64]:
    sigma = np.empty(len(labels))
    for index, tissue in enumerate(tissues):
        mask = labels == index
        sigma[mask] = conductivity(model, tissue, e[mask])
    return sigma
