"""Sparse products split by rows over the machine's cores.

Products of CSR matrices with vectors and matrices are memory-bound loops that scipy
runs on one core, with the GIL released while they run. Here the rows are cut into
blocks of about equal non-zeros, one block per worker thread, so that the field
engine's conjugate gradients and multigrid use every core. Each row is computed
exactly as in the serial product: the results are identical to the last bit.

Fresh memory costs the kernel a page fault and a page clearing per page at its first
write, which on some virtual machines is slower than the work written into it;
:func:`empty` touches the pages of a large array from all workers at once, and the
products write their results from every worker.

OpenBLAS's own threads busy-wait on the cores after each vector operation (the dot
products of CG); :func:`blas_on_one_thread` keeps BLAS on one thread while the row
blocks use the cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike, NDArray
from scipy.sparse.linalg import LinearOperator
from threadpoolctl import threadpool_limits

#: Most worker threads (memory bandwidth, not the core count, limits these products).
MAX_WORKERS = 8
#: Below this many non-zeros a product runs serially: its arrays sit in the cache,
#: and a thread hand-over costs about as much as the product.
MIN_PARALLEL_NNZ = 500_000


_limit: int | None = None


def workers() -> int:
    """Worker threads: the cores this process may run on, at most MAX_WORKERS (and at
    most the limit set by :func:`at_most`)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    count = min(cores, MAX_WORKERS)
    if _limit is not None:
        count = min(count, _limit)
    return max(1, count)


@contextmanager
def at_most(count: int) -> Iterator[None]:
    """Within: at most ``count`` worker threads (for work already run in parallel by
    processes, such as the planner's samples on a dask cluster)."""
    global _limit
    previous, _limit = _limit, max(1, count)
    try:
        yield
    finally:
        _limit = previous


@contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """Within: BLAS (OpenBLAS, MKL) runs on one thread."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@cache
def _pool(size: int, pid: int) -> ThreadPoolExecutor:
    # One pool per process: a forked child does not inherit its parent's threads.
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="openect-sparse")


#: Arrays at least this large (bytes) have their pages touched by all workers.
MIN_PARALLEL_BYTES = 16 * 2**20


def _parallel(function: Callable[[int], None], parts: int) -> None:
    """Run ``function(k)`` for k < parts on the worker threads (serially for one)."""
    if parts == 1 or workers() == 1:
        for k in range(parts):
            function(k)
        return
    pool = _pool(workers(), os.getpid())
    if parts > workers():
        list(pool.map(function, range(parts)))
        return
    # One part per worker: the calling thread takes part 0 itself (one hand-over fewer).
    pending = [pool.submit(function, k) for k in range(1, parts)]
    function(0)
    for future in pending:
        future.result()


def empty(shape: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """A new array, uninitialised (like :func:`numpy.empty`), whose memory has been
    touched by all workers at once when it is large."""
    array = np.empty(shape, dtype=dtype)
    flat = array.reshape(-1)
    parts = workers() if array.nbytes >= MIN_PARALLEL_BYTES else 1
    if parts > 1:
        bounds = np.linspace(0, flat.size, parts + 1).astype(np.int64)

        def touch(k: int) -> None:
            flat[bounds[k] : bounds[k + 1]].fill(0)

        _parallel(touch, parts)
    return array


def take(values: NDArray[Any], indices: NDArray[np.integer[Any]]) -> NDArray[Any]:
    """``values[indices]`` gathered by all workers, each into its own part of the
    result (which it touches first)."""
    out = np.empty(len(indices), dtype=values.dtype)
    parts = workers() if out.nbytes >= MIN_PARALLEL_BYTES else 1
    bounds = np.linspace(0, len(indices), parts + 1).astype(np.int64)

    def gather(k: int) -> None:
        part = slice(bounds[k], bounds[k + 1])
        np.take(values, indices[part], out=out[part])

    _parallel(gather, parts)
    return out


class RowBlocks:
    """A CSR matrix cut into row blocks of about equal non-zeros (views, no copies),
    one per worker unless ``parts`` says how many; one block below ``min_nnz``
    non-zeros."""

    def __init__(
        self, matrix: sp.csr_matrix, parts: int | None = None, min_nnz: int = MIN_PARALLEL_NNZ
    ) -> None:
        matrix = sp.csr_matrix(matrix)
        self.matrix = matrix
        self.shape: tuple[int, int] = (int(matrix.shape[0]), int(matrix.shape[1]))
        parts = workers() if parts is None else parts
        if matrix.nnz < min_nnz or self.shape[0] < 2 * parts:
            parts = 1
        indptr = matrix.indptr
        # Row boundaries at equal shares of the non-zeros.
        cuts = np.searchsorted(indptr, np.linspace(0, matrix.nnz, parts + 1)[1:-1])
        self.bounds = [0, *sorted({int(c) for c in cuts if 0 < c < self.shape[0]}), self.shape[0]]
        self.blocks: list[sp.csr_matrix] = []
        for lo, hi in zip(self.bounds[:-1], self.bounds[1:], strict=True):
            start, stop = indptr[lo], indptr[hi]
            # Set directly: scipy's constructor copies a view of less than half its array.
            block = sp.csr_matrix((hi - lo, self.shape[1]), dtype=matrix.dtype)
            block.data = matrix.data[start:stop]
            block.indices = matrix.indices[start:stop]
            block.indptr = (indptr[lo : hi + 1] - start).astype(matrix.indices.dtype)
            self.blocks.append(block)

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

        _parallel(run, self.parts)
        return y

    def matmat(self, *factors: sp.csr_matrix) -> sp.csr_matrix:
        """The product with the sparse matrices ``factors`` (CSR), left to right, block
        by block: with more blocks than workers, a product of three such as the
        Galerkin R A P never holds the whole of A P."""
        if self.parts == 1:
            product = self.matrix
            for factor in factors:
                product = product @ factor
            return sp.csr_matrix(product)
        products: list[sp.csr_matrix] = [sp.csr_matrix((0, 0))] * self.parts

        def multiply(k: int) -> None:
            product = self.blocks[k]
            for factor in factors:
                product = product @ factor
            products[k] = sp.csr_matrix(product)

        _parallel(multiply, self.parts)
        # Stacked by each worker into its own part of the result.
        starts = np.cumsum([0] + [block.nnz for block in products])
        columns = factors[-1].shape[1]
        index = np.int32 if starts[-1] < 2**31 - 1 and columns < 2**31 - 1 else np.int64
        # Each worker touches its own part first.
        indices = np.empty(int(starts[-1]), dtype=index)
        data = np.empty(int(starts[-1]), dtype=products[0].dtype)
        indptr = np.empty(self.shape[0] + 1, dtype=index)
        indptr[0] = 0

        def place(k: int) -> None:
            block, start = products[k], starts[k]
            indices[start : starts[k + 1]] = block.indices
            data[start : starts[k + 1]] = block.data
            indptr[self.bounds[k] + 1 : self.bounds[k + 1] + 1] = block.indptr[1:] + start
            products[k] = sp.csr_matrix((0, 0))  # released as soon as placed

        _parallel(place, self.parts)
        return sp.csr_matrix((data, indices, indptr), shape=(self.shape[0], columns))

    def operator(self) -> LinearOperator:
        """The matrix as a linear operator whose products use the worker threads."""
        return LinearOperator(self.shape, matvec=self.matvec, dtype=self.matrix.dtype)
