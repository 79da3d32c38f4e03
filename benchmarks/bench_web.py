"""Benchmark: latency of the web application under 20 concurrent clients.

Builds the demo registry (``openect demo``: 300 synthetic patients, SQLite), starts
``openect serve`` (gunicorn, the production server) on it, signs the administrator in
(setting up its second factor, as at a first sign-in), shares that session among 20
clients and has them request, concurrently and repeatedly, the patient list, a patient page and the
API's patient list (bearer token), with ``wrk`` when it is installed (after a 3 s
warm-up of each page, so that every worker process has the page in its cache; the
registry does not change during the run). Prints the median, p95 and maximum latency per page,
and the same single-client figures as the baseline run in the same process, so the ratio
shows what concurrency costs. Target: p95 <= 200 ms.

    .venv/bin/python benchmarks/bench_web.py [--clients 20] [--requests 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_P95_MS = 200.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def openect(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True, text=True, input=stdin, check=True, env=env,
    )  # fmt: skip
    return done.stdout


class Client:
    """One signed-in browser-like client (session cookie) on a keep-alive connection."""

    def __init__(
        self, port: int, username: str, password: str, session: Client | None = None
    ) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        if session is not None:  # another connection of that signed-in session
            self.cookies = dict(session.cookies)
            return
        page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None, "no CSRF token on the login page"
        body = f"csrfmiddlewaretoken={token.group(1)}&username={username}&password={password}"
        form = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{port}/login/",
        }
        self.request("POST", "/login/", body, form)
        assert "sessionid" in self.cookies, "sign-in failed"
        self.set_up_second_factor()

    def set_up_second_factor(self) -> None:
        """Where the role requires a second factor (an administrator), set one up as a
        person would: the secret key of the account page, the code of now."""
        page = self.get("/account/")
        if "needs a second factor" not in page:
            return
        from base64 import b32decode

        from django_otp.oath import totp

        secret = re.search(r'id="secret" readonly value="([A-Z2-7 ]+)"', page)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert secret is not None, "no secret key on the account page"
        assert token is not None, "no CSRF token on the account page"
        code = totp(b32decode(secret.group(1).replace(" ", "")))
        body = f"csrfmiddlewaretoken={token.group(1)}&code={code:06d}&next=/"
        form = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{self.port}/account/",
        }
        status, _ = self.request("POST", "/account/", body, form)
        assert status == 302, f"second factor not set up (HTTP {status})"

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:  # fmt: skip
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
            # the server closed an idle keep-alive connection: reconnect once
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def get(self, path: str, headers: dict[str, str] | None = None) -> str:
        status, text = self.request("GET", path, headers=headers)
        if status not in (200, 302):
            raise RuntimeError(f"GET {path}: HTTP {status}")
        return text

    def timed(self, path: str, headers: dict[str, str] | None = None) -> float:
        started = time.perf_counter()
        status, _ = self.request("GET", path, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000.0
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}")
        return elapsed


WRK_SCRIPT = """
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency.max / 1000, errors))
end
"""


def wrk(
    url: str, headers: dict[str, str], clients: int, seconds: int, script: Path
) -> dict[str, float]:
    """Load ``url`` with wrk (C, so the load generator takes little CPU from the server)."""
    command = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(script)]  # fmt: skip
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT"))
    requests, median, p95, worst, errors = line.split()[1:]
    return {"requests": float(requests), "median": float(median), "p95": float(p95),
            "max": float(worst), "errors": float(errors)}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100.0 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per client and page")
    parser.add_argument("--seconds", type=int, default=15, help="wrk run per page (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        openect("demo", "--dir", str(demo), "--no-field")
        url = f"sqlite:///{demo / 'registry.sqlite3'}"
        env = {**os.environ, "OPENECT_SECRET_KEY": "bench-" + "x" * 44,
               "XDG_DATA_HOME": str(Path(tmp) / "data")}  # fmt: skip
        token = json.loads(openect("web", "token", "admin", "--json", "--database", url, env=env))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "openect", "serve", "--port", str(port),
             "--database", url],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            first = Client(port, "admin", "electrode-keys-all")
            patient = re.search(r'href="/patients/([^/"]+)/"', first.get("/"))
            assert patient is not None, "no patient link on the patient list"
            api = {"Authorization": f"Bearer {token['token']}"}
            pages = {
                "patient list": ("/", None),
                "patient page": (f"/patients/{patient.group(1)}/", None),
                "API patient list": ("/api/patients/?limit=50", api),
            }
            baseline = {
                name: statistics.median(first.timed(path, headers) for _ in range(20))
                for name, (path, headers) in pages.items()
            }
            if shutil.which("wrk"):
                script = Path(tmp) / "p95.lua"
                script.write_text(WRK_SCRIPT, encoding="utf-8")
                cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in first.cookies.items())}
                for path, headers in pages.values():  # warm every worker's page cache
                    wrk(
                        f"http://127.0.0.1:{port}{path}", headers or cookie, args.clients, 3, script
                    )
                results = {
                    name: wrk(
                        f"http://127.0.0.1:{port}{path}",
                        headers or cookie,
                        args.clients,
                        args.seconds,
                        script,
                    )
                    for name, (path, headers) in pages.items()
                }
                report(args.clients, baseline, results, "wrk")
                return
            clients = [
                Client(port, "admin", "electrode-keys-all", session=first)
                for _ in range(args.clients)
            ]
            timings: dict[str, list[float]] = {name: [] for name in pages}
            lock = threading.Lock()
            barrier = threading.Barrier(len(clients))

            failures: list[BaseException] = []

            def work(client: Client) -> None:
                barrier.wait()
                try:
                    run(client)
                except BaseException as error:  # reported after the run
                    failures.append(error)

            def run(client: Client) -> None:
                for _ in range(args.requests):
                    for name, (path, headers) in pages.items():
                        elapsed = client.timed(path, headers)
                        with lock:
                            timings[name].append(elapsed)

            threads = [threading.Thread(target=work, args=(c,)) for c in clients]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            if failures:
                raise RuntimeError(f"{len(failures)} client(s) failed: {failures[0]!r}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    results = {
        name: {
            "requests": float(len(values)),
            "median": statistics.median(values),
            "p95": percentile(values, 95),
            "max": max(values),
        }
        for name, values in timings.items()
    }
    report(args.clients, baseline, results, f"Python threads, {wall:.0f} s")


def report(
    clients: int, baseline: dict[str, float], results: dict[str, dict[str, float]], how: str
) -> None:
    """Print the latency table and the verdict."""
    print(
        f"openect serve (gunicorn, default workers) on the demo registry (300 patients); "
        f"{clients} concurrent clients per page ({how})"
    )
    print()
    print("| page | requests | failed | 1 client median ms | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for name, r in results.items():
        worst = max(worst, r["p95"])
        print(f"| {name} | {r['requests']:.0f} | {r.get('errors', 0):.0f} | {baseline[name]:.0f} | "
              f"{r['median']:.0f} | "
              f"{r['p95']:.0f} | {r['max']:.0f} |")  # fmt: skip
    verdict = "met" if worst <= TARGET_P95_MS else "NOT met"
    print(f"\nTarget (p95 <= {TARGET_P95_MS:.0f} ms on every page): {verdict}")


if __name__ == "__main__":
    main()
