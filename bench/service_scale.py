"""Service benchmark: the scheduler over many sandbox mailboxes, and capture scale-out.

In the same run:
1. No-change pass over N mailboxes (default 250; the issue's 1,000 with --mailboxes 1000):
   after a first full sync, every stream is made due and polled once more with nothing new,
   --pass-repeat times (medians reported). Requests per stream (sandbox request log) and CPU
   per stream (the worker process's own CPU time) for the scheduler (`syncd run`), the
   `run_pass` loop (`syncd run --once`) as the baseline, and a floor: the same delta GETs
   with requests and JSON decoding only. The sandbox keeps connections alive, as Graph does.
   Targets (issue 7): 1 request per stream, under 2 ms CPU per stream.
   Peak RSS (VmHWM) of the scheduler worker.
2. Capture throughput: a tenant of M mailboxes (default 24, 3,000 messages) synced from empty
   by K `syncd run` processes: SQLite (one writer), PostgreSQL with 1, 2 and 4 workers.
   Sightings per second and the scaling ratio against one PostgreSQL worker.

Prints tables and writes JSON (default bench/results/service_scale.json).

    python bench/service_scale.py [--mailboxes 1000] [--pass-repeat 3] [--tp-mailboxes 24]
        [--tp-messages 3000] [--repeat 1] [--postgres postgresql://postgres@127.0.0.1:5432/test]
        [--skip-pass] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402

from syncd.demo import generate  # noqa: E402
from syncd.demo_job import sandbox_config_toml  # noqa: E402
from syncd.sandbox import Sandbox  # noqa: E402

SECRET_ENV = "SYNCD_BENCH_M365_SECRET"


def child_env() -> dict[str, str]:
    env = dict(os.environ, **{SECRET_ENV: "demo-secret"})
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(name, None)
    return env


def write_config(path: Path, box: Sandbox, url: str, service: str = "") -> Path:
    body = sandbox_config_toml(box, url, "contoso-demo.fr", SECRET_ENV, call_records=False)
    path.write_text(body + "\n[service]\n" + service, encoding="utf-8")
    return path


def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# ---- 1. no-change pass (runs in a child process: its CPU is the worker's alone) ------------


def child_pass(config: Path, mode: str, repeat: int) -> None:
    from sqlalchemy import func, select, update

    from syncd.app import App
    from syncd.config import load_settings
    from syncd.service.scheduler import Scheduler
    from syncd.store.db import session_scope
    from syncd.store.models import Stream
    from syncd.store.models_service import ServiceLease
    from syncd.sync import run_pass

    app = App(load_settings(config))

    def scheduler_pass(since: float) -> tuple[float, float, float, int]:
        sched = Scheduler(app, worker_id=f"bench-{uuid.uuid4().hex[:4]}")
        thread = threading.Thread(target=sched.run)
        wall0, cpu0 = time.time(), time.process_time()
        thread.start()
        while True:
            time.sleep(0.2)
            with session_scope(app.sessions) as s:
                total = s.scalar(select(func.count()).select_from(ServiceLease)) or 0
                done = s.scalar(select(func.count()).select_from(ServiceLease).where(
                    ServiceLease.last_run_at > since_dt(since), ServiceLease.owner.is_(None))) or 0
            if total and done == total:
                break
        cpu = time.process_time() - cpu0
        wall1 = time.time()
        sched.request_stop()
        thread.join()
        return wall0, wall1, cpu, total

    def since_dt(t: float) -> Any:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(t, UTC)

    passes: list[dict[str, float]] = []
    if mode == "scheduler":
        scheduler_pass(time.time())  # first full sync
        for _ in range(repeat):
            with session_scope(app.sessions) as s:
                s.execute(update(Stream).values(poll_due_at=None))
                s.execute(update(ServiceLease).values(due_at=since_dt(time.time() - 1)))
            wall0, wall1, cpu, _units = scheduler_pass(time.time())
            passes.append({"start": wall0, "end": wall1, "cpu": cpu})
    else:
        run_pass(app)
        for _ in range(repeat):
            wall0, cpu0 = time.time(), time.process_time()
            run_pass(app)
            cpu, wall1 = time.process_time() - cpu0, time.time()
            passes.append({"start": wall0, "end": wall1, "cpu": cpu})
    with session_scope(app.sessions) as s:
        streams = s.scalar(select(func.count()).select_from(Stream)) or 0
        links = [c for c in s.scalars(select(Stream.cursor)) if c and c.startswith("http")]
    rss = vm_hwm_kib()
    floor = {}
    if mode == "scheduler":
        floor = {"passes": [floor_pass(app, links) for _ in range(repeat)],
                 "streams": len(links)}
    app.close()
    print(json.dumps({"passes": passes, "streams": streams, "rss_kib": rss, "floor": floor}))


def floor_pass(app: Any, links: list[str]) -> dict[str, float]:
    """The floor: the same no-change delta GETs (the mail folders' deltaLinks) with requests
    and JSON decoding, nothing else: one thread, one kept-alive connection, one token."""
    import requests

    conf = app.settings.connectors[0]
    token = app.graph_connector(conf).auth.token()
    session = requests.Session()
    session.trust_env = False
    session.verify = str(conf.ca_bundle)
    headers = {"Authorization": f"Bearer {token}"}
    wall0, cpu0 = time.time(), time.process_time()
    for link in links:
        session.get(link, headers=headers, timeout=30).json()
    cpu, wall1 = time.process_time() - cpu0, time.time()
    session.close()
    return {"start": wall0, "end": wall1, "cpu": cpu}


def no_change_pass(box: Sandbox, tmp: Path, mode: str, repeat: int) -> dict[str, Any]:
    db = tmp / f"pass-{mode}.db"
    config = write_config(tmp / f"pass-{mode}.toml", box, f"sqlite:///{db}",
                          "mail_interval = 3600\ncalendar_interval = 3600\njitter = 0\n")
    out = subprocess.run([sys.executable, __file__, "--child-pass", str(config), mode,
                          str(repeat)], env=child_env(), capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if data.get("floor"):
        data["floor"] = measured(box, data["floor"])
    return measured(box, data)


def measured(box: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    """Requests (from the sandbox's log) and CPU per stream of each pass, and their medians."""
    log = list(box.request_log)
    streams = max(1, data["streams"])
    for p in data["passes"]:
        records = [r for r in log if p["start"] <= r.time <= p["end"]]
        per_mailbox = sum(1 for r in records if r.mailbox)
        p["requests_mailbox"] = per_mailbox
        p["requests_other"] = len(records) - per_mailbox
        p["requests_per_stream"] = per_mailbox / streams
        p["cpu_ms_per_stream"] = 1000 * p["cpu"] / streams
        p["seconds"] = p["end"] - p["start"]
    for name in ("requests_per_stream", "cpu_ms_per_stream", "seconds", "requests_other"):
        data[name] = statistics.median(p[name] for p in data["passes"])
    return data


# ---- 2. capture throughput -----------------------------------------------------------------


def sightings(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM sightings")).scalar_one())
    except Exception:
        return 0  # schema not there yet
    finally:
        engine.dispose()


def throughput(box: Sandbox, tmp: Path, url: str, workers: int, expected: int) -> float:
    config = write_config(tmp / f"tp-{uuid.uuid4().hex[:6]}.toml", box, url,
                          "mail_interval = 3600\ncalendar_interval = 3600\nthreads = 4\n")
    procs = [subprocess.Popen([sys.executable, "-m", "syncd", "--quiet", "--config", str(config),
                               "run", "--log-format", "json", "--worker-id", f"b{i}"],
                              env=child_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for i in range(workers)]
    started = time.perf_counter()
    try:
        while sightings(url) < expected:
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker exited early")
            time.sleep(0.1)
        return time.perf_counter() - started
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)


class Postgres:
    """A fresh database per measurement on the given server."""

    def __init__(self, base: str) -> None:
        self.admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1),
                                   isolation_level="AUTOCOMMIT")

    def fresh(self) -> str:
        name = f"syncd_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.last = name
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.last}" WITH (FORCE)'))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=250)
    parser.add_argument("--tp-mailboxes", type=int, default=24)
    parser.add_argument("--tp-messages", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=1, help="throughput runs per row")
    parser.add_argument("--postgres", default=os.environ.get(
        "SYNCD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-pass", action="store_true")
    parser.add_argument("--json-out", type=Path,
                        default=REPO / "bench" / "results" / "service_scale.json")
    parser.add_argument("--pass-repeat", type=int, default=3,
                        help="no-change passes per loop (medians are reported)")
    parser.add_argument("--child-pass", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_pass:
        child_pass(Path(args.child_pass[0]), args.child_pass[1], int(args.child_pass[2]))
        return 0
    result: dict[str, Any] = {"mailboxes": args.mailboxes}
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_pass:
            no_change_section(args, tmp, result)
        if not args.skip_throughput:
            throughput_section(args, tmp, result)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"\nJSON: {args.json_out}")
    return 0


def no_change_section(args: argparse.Namespace, tmp: Path, result: dict[str, Any]) -> None:
    company = generate(3, users=args.mailboxes, accounts=20, messages=args.mailboxes,
                       events=10, calls=0)
    with Sandbox(seed=3) as box:
        box.seed_demo(company)
        passes = {mode: no_change_pass(box, tmp, mode, args.pass_repeat)
                  for mode in ("scheduler", "run_pass")}
    result["no_change"] = passes
    print(f"\nNo-change pass over {args.mailboxes} mailboxes "
          f"({passes['scheduler']['streams']} streams: inbox, sent items, calendar; medians "
          f"of {args.pass_repeat} passes; the floor GETs the mail folders' deltaLinks)")
    print(f"{'loop':28} {'req/stream':>11} {'CPU ms/stream':>14} {'other req':>10} "
          f"{'seconds':>8}")
    passes["floor"] = passes["scheduler"].pop("floor")
    for mode, label in (("scheduler", "scheduler (syncd run)"),
                        ("run_pass", "baseline: run --once loop"),
                        ("floor", "floor: GET + JSON only")):
        p = passes[mode]
        print(f"{label:28} {p['requests_per_stream']:11.2f} {p['cpu_ms_per_stream']:14.2f} "
              f"{p['requests_other']:10.0f} {p['seconds']:8.1f}")
    s = passes["scheduler"]
    print(f"targets: 1 request/stream -> {s['requests_per_stream']:.2f} "
          f"({'met' if s['requests_per_stream'] <= 1.0 else 'NOT met'}); CPU < 2 ms/stream "
          f"-> {s['cpu_ms_per_stream']:.2f} "
          f"({'met' if s['cpu_ms_per_stream'] < 2 else 'NOT met'}); scheduler / baseline "
          f"CPU = {s['cpu_ms_per_stream'] / passes['run_pass']['cpu_ms_per_stream']:.2f}, "
          f"scheduler - floor = "
          f"{s['cpu_ms_per_stream'] - passes['floor']['cpu_ms_per_stream']:.2f} ms/stream")
    print(f"peak RSS of one scheduler worker: {s['rss_kib'] / 1024:.0f} MiB")


def throughput_section(args: argparse.Namespace, tmp: Path, result: dict[str, Any]) -> None:
    company = generate(4, users=args.tp_mailboxes, accounts=10,
                       messages=args.tp_messages, events=10, calls=0)
    rows: list[dict[str, Any]] = []
    with Sandbox(seed=4) as box:
        box.seed_demo(company)
        # The target of every row: what one complete `syncd run --once` stores.
        expected_url = f"sqlite:///{tmp / 'tp-ref.db'}"
        ref = write_config(tmp / "tp-ref.toml", box, expected_url)
        subprocess.run([sys.executable, "-m", "syncd", "--quiet", "--config", str(ref),
                        "run", "--once"], env=child_env(), check=True,
                       stdout=subprocess.DEVNULL)
        expected = sightings(expected_url)
        pg = Postgres(args.postgres)
        for backend, workers in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2),
                                 ("postgresql", 4)):
            times = []
            for _ in range(args.repeat):
                if backend == "sqlite":
                    url = f"sqlite:///{tmp / f'tp-{uuid.uuid4().hex[:6]}.db'}"
                    times.append(throughput(box, tmp, url, workers, expected))
                else:
                    url = pg.fresh()
                    try:
                        times.append(throughput(box, tmp, url, workers, expected))
                    finally:
                        pg.drop()
            seconds = statistics.median(times)
            rows.append({"backend": backend, "workers": workers, "seconds": seconds,
                         "sightings": expected, "per_second": expected / seconds})
    base = next(r for r in rows if r["backend"] == "postgresql" and r["workers"] == 1)
    print(f"\nCapture from empty: {args.tp_mailboxes} mailboxes, {expected} sightings "
          f"(median of {args.repeat}; {os.cpu_count()} CPU cores on this machine)")
    print(f"{'backend':12} {'workers':>7} {'seconds':>8} {'sightings/s':>12} "
          f"{'vs PG x1':>9}")
    for r in rows:
        r["scaling"] = r["per_second"] / base["per_second"]
        print(f"{r['backend']:12} {r['workers']:7d} {r['seconds']:8.1f} "
              f"{r['per_second']:12.0f} {r['scaling']:9.2f}")
    print("sqlite with 2+ workers: refused by design (one writer process)")
    result["throughput"] = rows


if __name__ == "__main__":
    raise SystemExit(main())
