"""Graph sync benchmark: `syncd run --once` against the local Microsoft 365 sandbox.

In the same run, over the same seeded tenant:
- syncd: a `syncd run --once` process (msal token, O365 calls, delta paging, capture into a
  fresh SQLite file), timed end to end; its peak RSS;
- floor: plain HTTP GETs of the same delta pages (same page size) with JSON decoding and
  nothing else, from one thread per mailbox stream in turn;
- no-change poll: a second `syncd run --once`, counting the sandbox's requests per stream.

Targets (issue 3): syncd >= 0.5x the floor's messages/s; 1 request per stream on a no-change
poll. With --repeat N the floor and a from-scratch sync (fresh SQLite file) alternate N times
and the table shows medians; the ratio is the median of the per-round ratios (each round's
floor and sync ran back to back, so a busy machine hurts both alike). CPU seconds are printed
too: the syncd process's own (user + system, from the kernel's accounting of the child), and
the floor's client thread's (the sandbox serving both is in this process and is left out).
Prints a table and writes JSON (default bench/results/graph_sync.json).

    python bench/graph_sync.py [--messages 60000] [--events 10000] [--users 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncd.demo import generate  # noqa: E402
from syncd.demo_job import sandbox_config_toml  # noqa: E402
from syncd.sandbox import Sandbox  # noqa: E402

SECRET_ENV = "SYNCD_BENCH_M365_SECRET"
BACKFILL_DAYS, HORIZON_DAYS = 90, 180  # the msgraph connector's default calendar window
PAGE = 100


def write_config(path: Path, box: Sandbox, db: Path, domain: str) -> Path:
    path.write_text(sandbox_config_toml(box, f"sqlite:///{db}", domain, SECRET_ENV,
                                        call_records=False), encoding="utf-8")
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_syncd(config: Path) -> tuple[float, dict[str, object], int, float]:
    """Run `syncd run --once --json`; returns (seconds, summary, peak RSS in KiB, CPU seconds).

    The peak is the child's own VmHWM, polled from /proc: getrusage(RUSAGE_CHILDREN) would
    charge the child with this process's memory (the sandbox) from before its exec. CPU time
    is the RUSAGE_CHILDREN difference: the child is the only process reaped meanwhile.
    """
    cpu_before = _children_cpu()
    env = dict(os.environ, **{SECRET_ENV: "demo-secret"})
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env.pop(name, None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "--quiet", "--config", str(config),
                             "run", "--once", "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"syncd failed:\n{err}")
    return elapsed, json.loads(out), peak, _children_cpu() - cpu_before


def floor(graph_url: str, ca_path: str, token: str, owners: list[str],
          window: tuple[datetime, datetime]) -> tuple[float, int, int, float]:
    """Follow every folder's and calendar's delta to its deltaLink with plain requests: the
    same pages syncd reads (same page size, same calendar window). Returns (seconds, items,
    requests, CPU seconds of this client thread).

    Run in a process of its own (`floor_in_child`), like `syncd run --once`: in the bench's
    process it shared the GIL with the sandbox's server threads and paid for collecting the
    sandbox's growing heap, so it slowed down round after round (client CPU 5 s, 7 s, 9 s
    for the same pages) and flattered syncd."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_path
    session.headers.update({"Authorization": f"Bearer {token}",
                            "Prefer": f"odata.maxpagesize={PAGE}"})
    items = requests_made = 0
    started = time.perf_counter()
    cpu_started = time.thread_time()
    for owner in owners:
        for folder in ("inbox", "sentitems"):
            url: str | None = (f"{graph_url}users/{owner}/mailFolders/{folder}/messages/"
                               "delta")
            while url:
                body = session.get(url, timeout=60).json()
                requests_made += 1
                items += len(body.get("value", []))
                url = body.get("@odata.nextLink")
        lo, hi = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in window)
        url = (f"{graph_url}users/{owner}/calendarView/delta?startDateTime={lo}"
               f"&endDateTime={hi}")
        while url:
            body = session.get(url, timeout=60).json()
            requests_made += 1
            items += len(body.get("value", []))
            url = body.get("@odata.nextLink")
    return (time.perf_counter() - started, items, requests_made,
            time.thread_time() - cpu_started)


def floor_in_child(box: Sandbox, token: str, owners: list[str],
                   window: tuple[datetime, datetime]) -> tuple[float, int, int, float]:
    """`floor` in a fresh interpreter (spawned: nothing of the sandbox's heap comes along)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(floor, box.graph_url, str(box.ca_path), token, owners,
                           window).result()


def app_token(box: Sandbox) -> str:
    import msal

    app = msal.ConfidentialClientApplication(
        "syncd-demo", client_credential="demo-secret", authority=box.authority,
        instance_discovery=False, verify=str(box.ca_path))
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    return str(result["access_token"])


@contextmanager
def seeded_tenant(users: int, messages: int, events: int, calls: int, prefix: str
                  ) -> Iterator[tuple[Path, Sandbox, Any, Any, float]]:
    """A generated company seeded into a fresh sandbox in a scratch directory: yields (scratch
    directory, sandbox, company, ground truth, seconds spent generating and seeding). Shared by
    the Graph and EWS benches so both measure the same tenant."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)
    t0 = time.perf_counter()
    company = generate(11, users=users, accounts=max(25, users * 4), messages=messages,
                       events=events, calls=calls)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        with Sandbox(state_dir=work / "sandbox", seed=11,
                     request_log_limit=10_000_000) as box:
            box.seed_demo(company)
            yield work, box, company, box.state.ground_truth(), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=60000)
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of (floor, sync from scratch); medians are reported")
    ap.add_argument("--json-out", type=Path,
                    default=REPO / "bench" / "results" / "graph_sync.json")
    args = ap.parse_args(argv)
    with seeded_tenant(args.users, args.messages, args.events, 100,
                       "syncd-graph-bench-") as (work, box, company, truth, seeded):
        owners = [u.email for u in company.users]
        now = datetime.now(UTC)
        window = (now - timedelta(days=BACKFILL_DAYS), now + timedelta(days=HORIZON_DAYS))
        token = app_token(box)
        rounds: list[dict[str, float]] = []
        for i in range(max(1, args.repeat)):
            floor_s, floor_items, floor_requests, floor_cpu = floor_in_child(
                box, token, owners, window)
            config = write_config(work / f"syncd{i}.toml", box, work / f"bench{i}.db",
                                  company.domain)
            before = len(box.request_log)
            sync_s, summary, rss_kib, sync_cpu = run_syncd(config)
            sync_requests = len(box.request_log) - before
            rounds.append({"floor_s": floor_s, "floor_cpu": floor_cpu, "sync_s": sync_s,
                           "sync_cpu": sync_cpu, "rss_kib": rss_kib,
                           "ratio": floor_s / sync_s})
            print(f"round {i + 1}/{args.repeat}: floor {floor_s:.2f} s (client CPU "
                  f"{floor_cpu:.2f} s), syncd {sync_s:.2f} s (CPU {sync_cpu:.2f} s), "
                  f"ratio {floor_s / sync_s:.2f}", file=sys.stderr)
        before = len(box.request_log)
        idle_s, idle, _, idle_cpu = run_syncd(config)
        idle_requests = [r for r in box.request_log[before:]
                         if "/delta" in r.path or "callRecords" in r.path]
        streams = int(idle["streams"])  # type: ignore[call-overload]
    med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    messages = len(truth.messages)
    events = len(truth.events)
    sync_s, floor_s = med["sync_s"], med["floor_s"]
    rate = messages / sync_s
    floor_rate = messages / floor_s  # the floor read the same pages: same messages
    ratio = med["ratio"]
    print(f"\nSeeded tenant: {len(owners)} mailboxes, {messages} message copies, "
          f"{events} event occurrences (seeding {seeded:.1f} s); "
          f"median of {len(rounds)} round(s)")
    print(f"{'row':40} {'seconds':>9} {'CPU s':>7} {'messages/s':>12} {'requests':>9}")
    print(f"{'syncd run --once (mail + calendar)':40} {sync_s:9.2f} {med['sync_cpu']:7.2f} "
          f"{rate:12.0f} {sync_requests:9d}")
    print(f"{'floor: GET + JSON of the same pages':40} {floor_s:9.2f} {med['floor_cpu']:7.2f} "
          f"{floor_rate:12.0f} {floor_requests:9d}")
    print(f"(the floor read {floor_items} items: message copies and calendar delta entries; "
          "its CPU is the client's only)")
    print(f"\nsyncd / floor messages/s      = {ratio:.2f}  (target >= 0.5; per round: "
          + ", ".join(f"{r['ratio']:.2f}" for r in rounds) + ")")
    per_stream = len(idle_requests) / max(1, streams)
    print(f"no-change poll: {len(idle_requests)} delta requests for {streams} streams = "
          f"{per_stream:.2f} per stream (target 1), {idle_s:.2f} s, CPU {idle_cpu:.2f} s")
    peak_kib = max(r["rss_kib"] for r in rounds)
    print(f"peak RSS of the syncd process: {peak_kib / 1024:.0f} MiB")
    result = {
        "mailboxes": len(owners), "message_copies": messages, "event_occurrences": events,
        "rounds": rounds, "syncd_seconds": sync_s, "syncd_cpu_seconds": med["sync_cpu"],
        "syncd_messages_per_s": rate, "syncd_requests": sync_requests,
        "floor_seconds": floor_s, "floor_client_cpu_seconds": med["floor_cpu"],
        "floor_messages_per_s": floor_rate,
        "floor_requests": floor_requests, "ratio_vs_floor": ratio,
        "no_change_requests_per_stream": per_stream, "no_change_seconds": idle_s,
        "peak_rss_mib": peak_kib / 1024, "summary": summary,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"JSON written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
