"""Benchmark: concurrent API writes on SQLite and PostgreSQL (writes per second, errors).

Loads a small synthetic register (``--patients``, default 40) into a new registry, starts
``openect serve`` (gunicorn, the production server, default workers) on 127.0.0.1 and has
1, 4 and 16 (``--writers``) writers each change their own lesion again and again through
the REST API (``PATCH /api/lesions/ID``, bearer token, keep-alive) for ``--seconds``
(default 10 s) each, at most ``--max-writes`` per writer. Prints, per database and number
of writers, the writes per second, the median and p95 latency (ms), the server errors
(HTTP 5xx), other refusals (HTTP 4xx), broken connections and lost updates (lesions whose
stored value is not their writer's last successful write). Every write must succeed and
none be lost: a count > 0 is a bug.

SQLite: a new file in a temporary folder. PostgreSQL: with ``--postgresql URL`` (or
``OPENECT_TEST_DATABASE_URL``), a new database ``openect_bench_<pid>`` is created next to
the one named in the URL and dropped afterwards. All traffic stays on 127.0.0.1.

    .venv/bin/python benchmarks/bench_concurrency.py [--seconds 10] [--postgresql URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from openect.data.csvio import write_dataset
from openect.synth import generate_cohort

WRITER_COUNTS = (1, 4, 16)
PASSWORD = "bench-password-" + "x" * 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def openect(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True, text=True, input=stdin, check=True, env=env, timeout=600,
    )  # fmt: skip
    return done.stdout


@dataclass
class Tally:
    """One writer's results: latencies of successful writes (ms) and failures by kind."""

    latencies_ms: list[float] = field(default_factory=list)
    server_errors: int = 0
    refused: int = 0
    broken: int = 0
    #: The thickness (mm) of the writer's last successful write: the lesion must keep it.
    last_mm: float | None = None


def writer(
    port: int, token: str, lesion_id: str, seconds: float, cap: int, start: threading.Barrier
) -> Tally:
    """Change ``lesion_id``'s thickness for ``seconds`` (at most ``cap`` writes)."""
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start.wait()
    deadline = time.monotonic() + seconds
    for n in range(cap):
        if time.monotonic() > deadline:
            break
        body = json.dumps({"thickness_mm": 1.0 + (n % 100) / 10.0})  # mm, new each time
        began = time.perf_counter()
        try:
            client.request("PATCH", f"/api/lesions/{lesion_id}", body=body, headers=headers)
            response = client.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            tally.broken += 1
            client.close()
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        if response.status == 200:
            tally.latencies_ms.append((time.perf_counter() - began) * 1000.0)
            tally.last_mm = 1.0 + (n % 100) / 10.0
        elif response.status >= 500:
            tally.server_errors += 1
        else:
            tally.refused += 1
    client.close()
    return tally


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100.0 * (len(ordered) - 1)))] if values else 0.0


def load(
    port: int, token: str, lesions: list[str], writers: int, seconds: float, cap: int
) -> dict[str, float]:
    """``writers`` concurrent writers on their own lesions; totals and latency figures."""
    barrier = threading.Barrier(writers + 1)
    tallies: list[Tally] = [Tally() for _ in range(writers)]

    def run(i: int) -> None:
        tallies[i] = writer(port, token, lesions[i], seconds, cap, barrier)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    wall = time.perf_counter() - began
    latencies = [ms for t in tallies for ms in t.latencies_ms]
    lost = 0  # lesions whose stored thickness is not their writer's last successful write
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i, tally in enumerate(tallies):
        client.request(
            "GET", f"/api/lesions/{lesions[i]}", headers={"Authorization": f"Bearer {token}"}
        )
        stored = json.loads(client.getresponse().read())["thickness_mm"]
        lost += tally.last_mm is not None and stored != tally.last_mm
    client.close()
    return {
        "writes": float(len(latencies)),
        "per_s": len(latencies) / wall,
        "median": statistics.median(latencies) if latencies else 0.0,
        "p95": percentile(latencies, 95),
        "server_errors": float(sum(t.server_errors for t in tallies)),
        "refused": float(sum(t.refused for t in tallies)),
        "broken": float(sum(t.broken for t in tallies)),
        "lost": float(lost),
    }


@contextmanager
def postgresql_database(url: str) -> Iterator[str]:
    """A new, empty database beside the one in ``url`` (dropped afterwards); its URL."""
    import psycopg

    parts = urlsplit(url)
    name = f"openect_bench_{os.getpid()}"
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench(
    name: str, url: str, folder: Path, tmp: Path, args: argparse.Namespace
) -> list[tuple[str, int, dict[str, float]]]:
    """Load the register into ``url``, serve it and run every writer count."""
    env = {**os.environ, "OPENECT_SECRET_KEY": "bench-" + "x" * 44,
           "OPENECT_DATA_DIR": str(tmp / f"data-{name}")}  # fmt: skip
    env.pop("DATABASE_URL", None)
    openect("registry", "init", "--database", url, env=env)
    openect("registry", "import", str(folder), "--database", url, env=env)
    openect("registry", "user", "bench", "--role", "admin", "--password-stdin",
            "--database", url, env=env, stdin=PASSWORD + "\n")  # fmt: skip
    token = json.loads(openect("web", "token", "bench", "--json", "--database", url, env=env))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "openect", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--database", url],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows: list[tuple[str, int, dict[str, float]]] = []
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        auth = {"Authorization": f"Bearer {token['token']}"}
        client.request("GET", f"/api/lesions/?limit={max(WRITER_COUNTS)}", headers=auth)
        page = json.loads(client.getresponse().read())
        client.close()
        items = page["items"] if isinstance(page, dict) else page
        lesions = [item["lesion_id"] for item in items]
        assert len(lesions) >= max(WRITER_COUNTS), "too few lesions: raise --patients"
        load(port, token["token"], lesions, 4, 2.0, 50)  # warm-up of every worker
        for writers in args.writers:
            result = load(port, token["token"], lesions, writers, args.seconds, args.max_writes)
            rows.append((name, writers, result))
            print(f"  {name}, {writers} writer(s): {result['per_s']:.0f} writes/s, "
                  f"{result['server_errors']:.0f} server errors", file=sys.stderr)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per writer count (s)")
    parser.add_argument("--max-writes", type=int, default=5000, help="per writer and run")
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("OPENECT_TEST_DATABASE_URL"),
        help="PostgreSQL server URL (a scratch database is made on it)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--writers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=list(WRITER_COUNTS),
        help="numbers of concurrent writers, comma-separated (default: 1,4,16)",
    )
    args = parser.parse_args()
    rows: list[tuple[str, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        folder = write_dataset(generate_cohort(args.patients, centres=2, seed=2026), tmp / "ds")
        if not args.no_sqlite:
            rows += bench("SQLite", f"sqlite:///{tmp / 'registry.sqlite3'}", folder, tmp, args)
        if args.postgresql:
            with postgresql_database(args.postgresql) as url:
                rows += bench("PostgreSQL", url, folder, tmp, args)
    print(f"openect serve (gunicorn, default workers) on 127.0.0.1; each writer PATCHes its "
          f"own lesion for {args.seconds:.0f} s; {os.cpu_count()} cores")  # fmt: skip
    print()
    print(
        "| database | writers | writes | writes/s | median ms | p95 ms "
        "| HTTP 5xx | HTTP 4xx | broken | lost |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for database, writers, r in rows:
        print(f"| {database} | {writers} | {r['writes']:.0f} | {r['per_s']:.0f} | "
              f"{r['median']:.0f} | {r['p95']:.0f} | {r['server_errors']:.0f} | "
              f"{r['refused']:.0f} | {r['broken']:.0f} | {r['lost']:.0f} |")  # fmt: skip
    failed = sum(r["server_errors"] + r["refused"] + r["broken"] + r["lost"] for _, _, r in rows)
    print(f"\nEvery write succeeded: {'yes' if failed == 0 else f'NO ({failed:.0f} failed)'}")


if __name__ == "__main__":
    main()
