"""EWS sync benchmark: `syncd run --once` through EWS beside the same run through Graph.

In the same run, over the same seeded sandbox tenant and the same mailboxes (mail folders
inbox + sent items, and the calendar):
- graph: `syncd run --once` on an msgraph connector (bench/graph_sync.py's config and runner);
- ews: `syncd run --once` on an ews connector (exchangelib, SyncFolderItems, CalendarView,
  ResolveNames for the legacy DN senders the sandbox serves);
- ews no-change poll: a second EWS run, counting SOAP requests per stream.
Each full sync runs `--repeat` times into a fresh SQLite file; medians are reported.

No target is set by issue 4 beyond reporting EWS messages/s beside Graph's. Prints a table and
writes JSON (default bench/results/ews_sync.json).

    python bench/ews_sync.py [--messages 6000] [--events 300] [--users 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from graph_sync import SECRET_ENV, run_syncd, seeded_tenant  # noqa: E402
from graph_sync import write_config as write_graph_config  # noqa: E402

from syncd.sandbox import Sandbox  # noqa: E402

PAGE = 100


def write_ews_config(path: Path, box: Sandbox, db: Path, domain: str,
                     mailboxes: list[str]) -> Path:
    """The syncd.toml an admin writes for Exchange, pointed at the sandbox's EWS endpoint."""
    listed = ", ".join(f'"{m}"' for m in mailboxes)
    path.write_text(f"""database_url = "sqlite:///{db}"
state_dir = "{db.parent / 'state'}"
internal_domains = ["{domain}"]

[[connectors]]
kind = "ews"
name = "exchange"
service_endpoint = "{box.ews_url}"
auth = "oauth2"
tenant_id = "{box.tenant}"
client_id = "syncd-demo"
client_secret = "env:{SECRET_ENV}"
authority_host = "{box.base_url}"
ca_bundle = "{box.ca_path}"
mailboxes = [{listed}]
version = "Exchange2016"
page_size = {PAGE}
""", encoding="utf-8")
    return path


def timed_runs(make_config: Callable[[Path, Path], Path], work: Path, name: str, repeat: int
               ) -> tuple[list[float], dict[str, object], int]:
    seconds: list[float] = []
    summary: dict[str, object] = {}
    peak = 0
    for i in range(repeat):
        config = make_config(work / f"{name}-{i}.toml", work / f"{name}-{i}.db")
        elapsed, summary, rss, _cpu = run_syncd(config)
        errors = summary.get("errors")
        if errors:
            raise SystemExit(f"{name} sync reported errors: {errors}")
        seconds.append(elapsed)
        peak = max(peak, rss)
    return seconds, summary, peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=6000)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out", type=Path,
                    default=REPO / "bench" / "results" / "ews_sync.json")
    args = ap.parse_args(argv)
    with seeded_tenant(args.users, args.messages, args.events, 0,
                       "syncd-ews-bench-") as (work, box, company, truth, seeded):
        owners = [u.email for u in company.users]

        graph_s, graph_summary, graph_rss = timed_runs(
            lambda path, db: write_graph_config(path, box, db, company.domain),
            work, "graph", args.repeat)
        before = len(box.request_log)
        ews_s, ews_summary, ews_rss = timed_runs(
            lambda path, db: write_ews_config(path, box, db, company.domain, owners),
            work, "ews", args.repeat)
        per_run = Counter(r.path.rpartition("#")[2] for r in box.request_log[before:]
                          if "/EWS/" in r.path)
        # A second pass on the last EWS database: nothing changed.
        last = write_ews_config(work / "ews-idle.toml", box,
                                work / f"ews-{args.repeat - 1}.db", company.domain, owners)
        before = len(box.request_log)
        idle_s, idle, _, _ = run_syncd(last)
        idle_calls = [r for r in box.request_log[before:] if "/EWS/" in r.path]
        streams = int(idle["streams"])  # type: ignore[call-overload]
    messages = len(truth.messages)
    graph_med, ews_med = statistics.median(graph_s), statistics.median(ews_s)
    graph_rate, ews_rate = messages / graph_med, messages / ews_med
    # "?": requests refused before their operation was read (HTTP 401 of a stale token).
    ops = {op: round(n / args.repeat, 1) for op, n in sorted(per_run.items())}
    print(f"\nSeeded tenant: {len(owners)} mailboxes, {messages} message copies, "
          f"{len(truth.events)} event occurrences (seeding {seeded:.1f} s); "
          f"{args.repeat} runs each, medians")
    print(f"{'row':42} {'seconds':>9} {'messages/s':>12} {'peak MiB':>9}")
    print(f"{'graph: syncd run --once (mail + calendar)':42} {graph_med:9.2f} "
          f"{graph_rate:12.0f} {graph_rss / 1024:9.0f}")
    print(f"{'ews:   syncd run --once (mail + calendar)':42} {ews_med:9.2f} "
          f"{ews_rate:12.0f} {ews_rss / 1024:9.0f}")
    print(f"\news / graph messages/s = {ews_rate / graph_rate:.2f}")
    print(f"EWS requests per full sync: {ops}")
    per_stream = len(idle_calls) / max(1, streams)
    print(f"EWS no-change poll: {len(idle_calls)} requests for {streams} streams = "
          f"{per_stream:.2f} per stream, {idle_s:.2f} s")
    result = {
        "mailboxes": len(owners), "message_copies": messages,
        "event_occurrences": len(truth.events), "repeat": args.repeat,
        "graph_seconds": graph_s, "graph_median_seconds": graph_med,
        "graph_messages_per_s": graph_rate, "graph_peak_rss_mib": graph_rss / 1024,
        "ews_seconds": ews_s, "ews_median_seconds": ews_med, "ews_messages_per_s": ews_rate,
        "ews_peak_rss_mib": ews_rss / 1024, "ratio_ews_vs_graph": ews_rate / graph_rate,
        "ews_requests_per_sync": ops, "ews_no_change_requests_per_stream": per_stream,
        "graph_summary": graph_summary, "ews_summary": ews_summary,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"JSON written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
