"""Robustness of a plan to uncertain tissue conductivities.

Published conductivities of one tissue differ 2-4x (Kos et al. 2010, J Membr Biol
236:147). Each sample draws, for every tissue of the model (skin, fat, muscle and the
lesion), one factor log-uniformly in [1/2, 2] (a 4x range) applied to both its intact
and its electroporated conductivity; the footprint of one application is recomputed
with them (one field simulation per sample) and the plan's applications, unchanged, are
evaluated with it on the target samples. The coverage p5/p50/p95 over the samples says
how much of the target the plan keeps covered when the tissue is not the textbook one.
Samples run in parallel through dask.distributed: a LocalCluster on this machine by
default, or an existing cluster given by its scheduler address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import shapely
from pydantic import BaseModel

from openect.field import threads
from openect.planning.footprint import compute_footprint
from openect.planning.local_field import ApplicationSetup, LocalField
from openect.planning.placement import Application, coverage, sample_region

#: Each tissue's conductivities are scaled by a factor in [1 / SPREAD, SPREAD].
SPREAD = 2.0
#: Tissues whose conductivities are sampled.
SAMPLED_TISSUES = ("skin", "fat", "muscle", "tumour")


class Robustness(BaseModel):
    """Coverage of the target over conductivity samples (fractions)."""

    samples: int
    p5: float
    p50: float
    p95: float
    fractions: list[float]
    factor_range: tuple[float, float]
    tissues: list[str]
    scheduler: str
    method: str


def sample_scales(count: int, seed: int = 0) -> list[tuple[tuple[str, float], ...]]:
    """``count`` draws of per-tissue factors, log-uniform in [1/SPREAD, SPREAD];
    deterministic for a seed."""
    rng = np.random.default_rng(seed)
    draws = np.exp(rng.uniform(-np.log(SPREAD), np.log(SPREAD), (count, len(SAMPLED_TISSUES))))
    return [
        tuple((name, round(float(f), 6)) for name, f in zip(SAMPLED_TISSUES, row, strict=True))
        for row in draws
    ]


def sample_fraction(
    setup: ApplicationSetup,
    target_wkt: str,
    applications: list[tuple[float, float, float]],
    spacing_mm: float,
) -> float:
    """Target fraction covered by the plan's applications with one sample's footprint
    (runs in a dask worker: plain arguments only). The samples run in parallel as
    processes, so each simulation's sparse products stay on one thread."""
    with threads.at_most(1):
        footprint = compute_footprint(LocalField.build(setup))
    target = shapely.from_wkt(target_wkt)
    points = sample_region(target, spacing_mm)
    apps = [Application(x, y, a) for x, y, a in applications]
    return float(coverage(footprint, apps, points).mean())


def robustness(
    setup: ApplicationSetup,
    target: shapely.Polygon,
    applications: Sequence[Application],
    count: int,
    scheduler: str | None = None,
    spacing_mm: float = 0.5,
    progress: Callable[[], None] | None = None,
) -> Robustness:
    """Coverage p5/p50/p95 of the plan over ``count`` conductivity samples, computed in
    parallel on a dask.distributed cluster (``scheduler`` address, or a LocalCluster)."""
    if count < 1:
        raise ValueError(f"uncertainty={count}: allowed 1 to 200 samples")
    if count > 200:
        raise ValueError(f"uncertainty={count}: allowed 1 to 200 samples")
    from distributed import Client, LocalCluster, as_completed

    setups = [replace(setup, sigma_scale=scale) for scale in sample_scales(count)]
    plain = [(a.x_mm, a.y_mm, a.angle_deg) for a in applications]
    wkt = shapely.to_wkt(target, rounding_precision=-1)
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="10s")
        where = scheduler
    else:
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        where = "LocalCluster (2 worker processes)"
    try:
        futures = [
            client.submit(sample_fraction, s, wkt, plain, spacing_mm, pure=False) for s in setups
        ]
        index = {future.key: k for k, future in enumerate(futures)}
        fractions = [0.0] * count
        for future in as_completed(futures):
            fractions[index[future.key]] = float(future.result())
            if progress is not None:
                progress()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    p5, p50, p95 = (float(v) for v in np.percentile(fractions, [5, 50, 95]))
    return Robustness(
        samples=count,
        p5=p5,
        p50=p50,
        p95=p95,
        fractions=fractions,
        factor_range=(1 / SPREAD, SPREAD),
        tissues=list(SAMPLED_TISSUES),
        scheduler=where,
        method="footprint per sample (one field simulation each), plan unchanged",
    )
