"""Sparse products split by rows over the machine's cores.

Products of CSR matrices with vectors and matrices are memory-bound loops that scipy
runs on one core, with the GIL released while they run. Here the rows are cut into
blocks of about equal non-zeros, one block per worker thread, so that the field
engine's conjugate gradients and multigrid use every core. Each row is computed
exactly as in the serial product: the results are identical to the last bit.

OpenBLAS's own threads busy-wait on the cores after each vector operation (the dot
products of CG); :func:`blas_on_one_thread` keeps BLAS on one thread while the row
blocks use the cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import LinearOperator
from threadpoolctl import threadpool_limits

#: Most worker threads (memory bandwidth, not the core count, limits these products).
MAX_WORKERS = 8
#: Below this many non-zeros a product runs serially: a thread hand-over costs about
#: as much as the product.
MIN_PARALLEL_NNZ = 100_000


def workers() -> int:
    """Worker threads: the cores this process may run on, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


@contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """Within: BLAS (OpenBLAS, MKL) runs on one thread."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@cache
def _pool(size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="openect-sparse")


class RowBlocks:
    """A CSR matrix cut into row blocks of about equal non-zeros (views, no copies)."""

    def __init__(self, matrix: sp.csr_matrix, parts: int | None = None) -> None:
        matrix = sp.csr_matrix(matrix)
        self.matrix = matrix
        self.shape: tuple[int, int] = (int(matrix.shape[0]), int(matrix.shape[1]))
        parts = workers() if parts is None else parts
        if matrix.nnz < MIN_PARALLEL_NNZ or self.shape[0] < 2 * parts:
            parts = 1
        indptr = matrix.indptr
        # Row boundaries at equal shares of the non-zeros.
        cuts = np.searchsorted(indptr, np.linspace(0, matrix.nnz, parts + 1)[1:-1])
        self.bounds = [0, *sorted({int(c) for c in cuts if 0 < c < self.shape[0]}), self.shape[0]]
        self.blocks: list[sp.csr_matrix] = []
        for lo, hi in zip(self.bounds[:-1], self.bounds[1:], strict=True):
            start, stop = indptr[lo], indptr[hi]
            self.blocks.append(
                sp.csr_matrix(
                    (
                        matrix.data[start:stop],
                        matrix.indices[start:stop],
                        indptr[lo : hi + 1] - start,
                    ),
                    shape=(hi - lo, self.shape[1]),
                )
            )

    @property
    def parts(self) -> int:
        """Number of row blocks."""
        return len(self.blocks)

    def matvec(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The product with the vector ``x``."""
        x = np.asarray(x).ravel()
        if self.parts == 1:
            return np.asarray(self.matrix @ x)
        y = np.empty(self.shape[0], dtype=np.result_type(self.matrix.dtype, x.dtype))

        def run(k: int) -> None:
            y[self.bounds[k] : self.bounds[k + 1]] = self.blocks[k] @ x

        list(_pool(self.parts).map(run, range(self.parts)))
        return y

    def matmat(self, other: sp.csr_matrix) -> sp.csr_matrix:
        """The product with the sparse matrix ``other`` (CSR)."""
        if self.parts == 1:
            return sp.csr_matrix(self.matrix @ other)
        products = list(_pool(self.parts).map(lambda block: block @ other, self.blocks))
        return sp.csr_matrix(sp.vstack(products, format="csr"))

    def operator(self) -> LinearOperator:
        """The matrix as a linear operator whose products use the worker threads."""
        return LinearOperator(self.shape, matvec=self.matvec, dtype=self.matrix.dtype)
