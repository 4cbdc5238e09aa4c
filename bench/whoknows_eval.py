"""Who-knows on real mail: a temporal evaluation on the Enron inboxes, plus speed and memory.

Protocol (issue 5). Mailbox owners are the most frequent recipient of their inbox (read from
mail before the cutoff, as `syncd import` infers them); the internal domain is enron.com.
Only mail dated before the cutoff is imported (`syncd import` of a tree of links to those
files). A target is an address X that is not an owner, not a robot, wrote to owners before the
cutoff and writes to owners after it; `who-knows X` (ranking owners, as of the cutoff) is
scored against the owners X writes to after the cutoff: MRR and hit@5 (Dynamics shows five).
The same pre-cutoff mail (deduplicated across inboxes) gives the baselines, each ranking the
owners X exchanged mail with, then the remaining owners in random order:
- count: messages between X and the owner (either direction);
- recent: time of the latest such message;
- EdgeBank: any past message, in random order (mean over 20 shuffles);
- decayed30: messages weighted 2^(-age / 30 days) at the cutoff.
`direct share` is the share of targets where some owner X writes to after the cutoff had
exchanged mail with X before it: a ranking of direct contacts cannot hit more; beating it
takes indirect evidence.

Tuning: `--tune` runs the same protocol with a validation cutoff three months earlier and the
truth taken only from mail before the reported cutoff, so constants chosen with it never see
the reported test period.

Performance, on the same import: `syncd who-knows` as a process vs `python -c "import
sqlalchemy, networkx"` (target <= 1.5x; wall and CPU time), `path` (< 1 s: the query, which
reads the neighbourhood it needs, checked against a search on the whole graph; and the
process), loading the whole graph (< 2 s) and its memory; and a synthetic graph of
--synthetic-ties ties (default 1,000,000) written straight into a fresh store: load time,
who-knows and path time, RSS.

    python bench/whoknows_eval.py [--corpus DIR] [--cutoff 2001-11-01] [--tune]
        [--synthetic-ties N] [--json-out FILE]
    python bench/whoknows_eval.py --skip-eval --synthetic-ties 0 --repeat 9   # start-up only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connectors.base import Interaction, Role  # noqa: E402
from connectors.files.rfc822 import parse_message, read_header_block  # noqa: E402
from connectors.normalize import is_automated_address  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "enron" / "maildir"
RECIPIENT_ROLES = (Role.TO, Role.CC)


@dataclass
class Mail:
    sender: str
    recipients: frozenset[str]
    at: datetime


@dataclass
class Corpus:
    files_before: list[Path] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # user folder -> address
    before: list[Mail] = field(default_factory=list)  # deduplicated
    after: list[Mail] = field(default_factory=list)


def scan(root: Path, cutoff: datetime, end: datetime | None) -> Corpus:
    """Parse every file with syncd's own parser; dedupe copies across inboxes."""
    out = Corpus()
    seen: set[str] = set()
    recipients_by_user: dict[str, Counter[str]] = defaultdict(Counter)
    for user_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in user_dir.rglob("*") if p.is_file()):
            block, _ = read_header_block(str(path))
            item = parse_message(block, provider_id=str(path), folder="inbox")
            if not isinstance(item, Interaction):
                continue
            before = item.occurred_at < cutoff
            if before:
                out.files_before.append(path)
                for p in item.participants:
                    if p.role in RECIPIENT_ROLES:
                        recipients_by_user[user_dir.name][p.email] += 1
            elif end is not None and item.occurred_at >= end:
                continue
            key = item.fingerprint or item.natural_key
            if key in seen:
                continue
            seen.add(key)
            sender = next((p.email for p in item.participants if p.role == Role.FROM), None)
            if sender is None:
                continue
            mail = Mail(sender, frozenset(p.email for p in item.participants
                                          if p.role in RECIPIENT_ROLES and p.email != sender),
                        item.occurred_at)
            (out.before if before else out.after).append(mail)
    for user, counts in recipients_by_user.items():
        if counts:
            out.owners[user] = counts.most_common(1)[0][0]
    return out


@dataclass
class Target:
    address: str
    truth: set[str]
    direct: set[str]  # owners X exchanged mail with before the cutoff


def targets_of(c: Corpus) -> list[Target]:
    owners = set(c.owners.values())
    wrote_before = {m.sender for m in c.before if m.recipients & owners}
    truth: dict[str, set[str]] = defaultdict(set)
    for m in c.after:
        if m.sender in wrote_before and m.sender not in owners:
            truth[m.sender] |= m.recipients & owners
    direct: dict[str, set[str]] = defaultdict(set)
    for m in c.before:
        if m.sender in owners:
            for r in m.recipients:
                direct[r].add(m.sender)
        for o in m.recipients & owners:
            direct[m.sender].add(o)
    return [Target(x, t, direct[x]) for x, t in sorted(truth.items())
            if t and not is_automated_address(x)]


def baseline_scores(c: Corpus, cutoff: datetime) -> dict[str, dict[str, dict[str, float]]]:
    """{baseline: {X: {owner: score}}} from the deduplicated pre-cutoff mail."""
    owners = set(c.owners.values())
    count: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    recent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    decayed: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for m in c.before:
        pairs = [(m.sender, o) for o in m.recipients & owners]
        if m.sender in owners:
            pairs += [(r, m.sender) for r in m.recipients]
        age = (cutoff - m.at).total_seconds() / 86400.0
        for x, o in pairs:
            if x == o:
                continue
            count[x][o] += 1
            recent[x][o] = max(recent[x][o], m.at.timestamp())
            decayed[x][o] += 0.5 ** (age / 30.0)
    edge = {x: {o: 1.0 for o in row} for x, row in count.items()}
    return {"count": count, "recent": recent, "EdgeBank": edge, "decayed30": decayed}


def scores(ranking: list[str], truth: set[str], k: int = 5) -> tuple[float, float]:
    for i, o in enumerate(ranking):
        if o in truth:
            return 1.0 / (i + 1), 1.0 if i < k else 0.0
    return 0.0, 0.0


def baseline_ranking(row: dict[str, float], owners: list[str], rnd: random.Random) -> list[str]:
    known = list(row)
    rnd.shuffle(known)  # random order among equal scores (EdgeBank: all equal)
    known.sort(key=lambda o: -row[o])
    rest = [o for o in owners if o not in row]
    rnd.shuffle(rest)
    return known + rest


def evaluate(db: Path, config: Path, c: Corpus, targets: list[Target],
             cutoff: datetime) -> dict[str, dict[str, float]]:
    from graph.privacy import OptOut
    from syncd.app import App
    from syncd.config import load_settings
    from syncd.graph_queries import GraphContext, who_knows
    from syncd.store.db import session_scope

    owners = sorted(set(c.owners.values()))
    among = frozenset(owners)
    results: dict[str, dict[str, float]] = {}
    base = baseline_scores(c, cutoff)
    for name, table in base.items():
        shuffles = 20 if name == "EdgeBank" else 5
        mrr = hit = 0.0
        for seed in range(shuffles):
            rnd = random.Random(seed)
            for t in targets:
                rr, h = scores(baseline_ranking(table.get(t.address, {}), owners, rnd), t.truth)
                mrr += rr
                hit += h
        n = len(targets) * shuffles
        results[name] = {"MRR": mrr / n, "hit@5": hit / n}
    app = App(load_settings(config), auto_migrate=False)
    ctx = GraphContext(app.policy, app.settings.graph.half_life_days,
                       OptOut(app.settings.graph.opt_out))
    mrr = hit = 0.0
    indirect_hits = 0
    started = time.perf_counter()
    try:
        with session_scope(app.sessions) as s:
            for t in targets:
                _, ranked, _ = who_knows(s, t.address, ctx, among=among, limit=None,
                                         as_of=cutoff)
                order = [r.email for r in ranked]
                rr, h = scores(order, t.truth)
                mrr += rr
                hit += h
                if h and not any(r.direct and r.email in t.truth for r in ranked[:5]):
                    indirect_hits += 1
    finally:
        app.close()
    n = len(targets)
    results["syncd who-knows"] = {"MRR": mrr / n, "hit@5": hit / n,
                                  "hits_by_indirect_evidence_only": indirect_hits / n,
                                  "seconds_per_query": (time.perf_counter() - started) / n}
    return results


def import_before(c: Corpus, corpus: Path, work: Path, half_life: float) -> tuple[Path, Path,
                                                                                   float]:
    tree = work / "pre"
    for f in c.files_before:
        dest = tree / f.relative_to(corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.symlink_to(f)
    db = work / f"enron-hl{half_life:g}.db"
    config = work / f"syncd-hl{half_life:g}.toml"
    config.write_text(f'database_url = "sqlite:///{db}"\nstate_dir = "{work}"\n'
                      f'internal_domains = ["enron.com"]\n\n[graph]\nhalf_life_days = '
                      f'{half_life}\n', encoding="utf-8")
    started = time.perf_counter()
    if not db.exists():
        subprocess.run([sys.executable, "-m", "syncd", "--quiet", "--config", str(config),
                        "import", str(tree), "--json"], check=True, capture_output=True,
                       cwd=work, env=_env())
    return db, config, time.perf_counter() - started


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # PYTHONDONTWRITEBYTECODE would make every timed process recompile syncd from source,
    # which an installed syncd (byte-compiled by pip) never does.
    for name in ("SYNCD_CONFIG", "SYNCD_DATABASE_URL", "SYNCD_INTERNAL_DOMAINS",
                 "SYNCD_STATE_DIR", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


CPU_TIMES: dict[str, float] = {}  # the same runs' median CPU time (user + sys), by label


def _time_process(cmd: list[str], repeat: int, label: str = "") -> float:
    """Median wall time of `cmd`; its median CPU time goes to CPU_TIMES[label] (the machine
    may be shared: CPU time shows what the process costs, wall time what a user waits)."""
    times, cpu = [], []
    subprocess.run(cmd, check=True, capture_output=True, env=_env())  # warm: caches, bytecode
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=_env())
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if label:
        CPU_TIMES[label] = statistics.median(cpu)
    return statistics.median(times)


def performance(db: Path, config: Path, targets: list[Target], repeat: int) -> dict[str, Any]:
    """Process times of the CLI against the import floor, and in-process graph figures."""
    py = sys.executable
    floor = _time_process([py, "-c", "import sqlalchemy, networkx"], repeat, "floor")
    busiest = max(targets, key=lambda t: len(t.direct)).address
    sample = [targets[len(targets) // 3].address, busiest]
    who = _time_process([py, "-m", "syncd", "--quiet", "--config", str(config), "who-knows",
                         busiest, "--json"], repeat, "who")
    out: dict[str, Any] = {"import_floor_seconds": floor, "who_knows_process_seconds": who,
                           "who_knows_over_floor": who / floor,
                           "import_floor_cpu_seconds": CPU_TIMES["floor"],
                           "who_knows_process_cpu_seconds": CPU_TIMES["who"],
                           "who_knows_over_floor_cpu": CPU_TIMES["who"] / CPU_TIMES["floor"]}
    out.update(_graph_figures(config, sample[0], sample[1]))
    out["path_process_seconds"] = _time_process(
        [py, "-m", "syncd", "--quiet", "--config", str(config), "path", sample[0], sample[1],
         "--json"], repeat, "path")
    out["path_process_cpu_seconds"] = CPU_TIMES["path"]
    return out


def _graph_figures(config: Path, a: str, b: str) -> dict[str, Any]:
    """Run in a child so that its RSS is the graph's, not this benchmark's."""
    code = (
        "import json, resource, sys, time\n"
        "from graph.privacy import OptOut\n"
        "from syncd.app import App\n"
        "from syncd.config import load_settings\n"
        "from syncd.graph_queries import GraphContext, load_graph, paths, who_knows\n"
        "from syncd.store.db import session_scope\n"
        "from pathlib import Path\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS'):\n"
        "            return int(line.split()[1]) / 1024\n"
        f"app = App(load_settings(Path({str(config)!r})), auto_migrate=False)\n"
        "ctx = GraphContext(app.policy, app.settings.graph.half_life_days, OptOut(()))\n"
        "with session_scope(app.sessions) as s:\n"
        "    before = rss()\n"
        "    t = time.perf_counter(); g = load_graph(s, ctx); load = time.perf_counter() - t\n"
        "    after = rss()\n"
        f"    t = time.perf_counter(); found, _ = paths(s, {a!r}, {b!r}, ctx, k=3)\n"
        "    path = time.perf_counter() - t\n"
        f"    t = time.perf_counter(); again, _ = paths(s, {a!r}, {b!r}, ctx, k=3, graph=g)\n"
        "    path_loaded = time.perf_counter() - t\n"
        "    assert again == found, 'local and whole-graph searches disagree'\n"
        f"    t = time.perf_counter(); who_knows(s, {b!r}, ctx); wk = time.perf_counter() - t\n"
        "print(json.dumps({'graph_load_seconds': load, 'graph_persons': g.persons,\n"
        "    'graph_ties': g.ties, 'graph_rss_mb': after - before, 'process_rss_mb': after,\n"
        "    'path_query_seconds': path, 'paths_found': len(found),\n"
        "    'path_query_loaded_graph_seconds': path_loaded,\n"
        "    'who_knows_query_seconds': wk,\n"
        "    'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=REPO, env=_env())
    figures: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return figures


def synthetic(work: Path, n_ties: int, seed: int = 7) -> dict[str, Any]:
    """A fresh store with n_ties ties over n_ties/10 persons (heavy-tailed degrees: a sales
    team of 1 % internal users holding most ties), written straight into the tie table."""
    from sqlalchemy import text

    from syncd.app import App
    from syncd.config import Settings

    db = work / "synthetic.db"
    db.unlink(missing_ok=True)
    n_persons = max(1000, n_ties // 10)
    n_users = max(10, n_persons // 100)
    app = App(Settings(database_url=f"sqlite:///{db}", internal_domains=("corp.example",)))
    rnd = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    try:
        with app.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO persons (id, email, name, domain, is_internal, is_automated, "
                "is_unresolved, forgotten) VALUES (?, ?, '', ?, ?, 0, 0, 0)",
                [(i, f"u{i}@corp.example" if i <= n_users else f"p{i}@d{i % 5000}.example",
                  "corp.example" if i <= n_users else f"d{i % 5000}.example",
                  int(i <= n_users)) for i in range(1, n_persons + 1)])
            conn.exec_driver_sql("INSERT INTO users (person_id, display_name, title, "
                                 "is_active) SELECT id, '', '', 1 FROM persons "
                                 f"WHERE id <= {n_users}")
            pairs: set[tuple[int, int]] = set()
            while len(pairs) < n_ties:
                # 70 % of ties have an internal user at one end (Zipf-like over users).
                a = (int(n_users * rnd.paretovariate(1.2)) % n_users) + 1 \
                    if rnd.random() < 0.7 else rnd.randint(1, n_persons)
                b = rnd.randint(1, n_persons)
                if a != b:
                    pairs.add((min(a, b), max(a, b)))
            rows = []
            for a, b in pairs:
                ab, ba = rnd.randint(0, 20), rnd.randint(0, 20)
                at = t0 - timedelta(days=rnd.uniform(0, 700))
                when = at.isoformat(" ", "microseconds")[:-6]
                w = (ab + ba) * rnd.uniform(0.2, 1.0)
                rows.append((a, b, ab, ba, when, when, w, w * 0.6, w * 0.4, when))
            conn.exec_driver_sql(
                "INSERT INTO ties (person_a, person_b, a_to_b, b_to_a, meetings, calls, "
                "co_recipient, replies_ab, replies_ba, call_seconds, latency_ab_sum, "
                "latency_ab_n, latency_ba_sum, latency_ba_n, first_at, last_at, score, "
                "email_ab, email_ba, reply_ab, reply_ba, meeting_w, call_w, co_w, score_at) "
                "VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, ?, 0, 0, 0, 0, "
                "0, ?)", rows)
            total = conn.execute(text("SELECT count(*) FROM ties")).scalar_one()
    finally:
        app.close()
    build = time.perf_counter() - started
    config = work / "synthetic.toml"
    config.write_text(f'database_url = "sqlite:///{db}"\nstate_dir = "{work}"\n'
                      'internal_domains = ["corp.example"]\n', encoding="utf-8")
    figures = _graph_figures(config, "u1@corp.example", f"p{n_persons}@d{n_persons % 5000}"
                             ".example")
    figures["who_knows_process_seconds"] = _time_process(
        [sys.executable, "-m", "syncd", "--quiet", "--config", str(config), "who-knows",
         f"p{n_persons}@d{n_persons % 5000}.example", "--json"], 3)
    return {"ties": total, "persons": n_persons, "build_seconds": build, **figures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--cutoff", default="2001-11-01")
    ap.add_argument("--tune", action="store_true",
                    help="validation run: cutoff 3 months earlier, truth before --cutoff")
    ap.add_argument("--half-life", type=float, nargs="+", default=[90.0],
                    help="[graph] half_life_days to evaluate (one import each)")
    ap.add_argument("--repeat", type=int, default=5, help="process timings: median of N")
    ap.add_argument("--synthetic-ties", type=int, default=1_000_000,
                    help="size of the synthetic graph (0: skip)")
    ap.add_argument("--skip-performance", action="store_true")
    ap.add_argument("--skip-eval", action="store_true",
                    help="timings only: import (or reuse, with --workdir) the store and skip "
                    "the MRR / hit@5 evaluation")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the stores here")
    ap.add_argument("--json-out", type=Path,
                    default=REPO / "bench" / "results" / "whoknows_eval.json")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus {args.corpus} not found (../shared/data/enron/maildir)", file=sys.stderr)
        return 2
    cutoff = datetime.fromisoformat(args.cutoff).replace(tzinfo=UTC)
    end = None
    if args.tune:
        cutoff, end = cutoff - timedelta(days=92), cutoff
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="syncd-whoknows-")
        work = Path(tmp.name)
    else:
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"cutoff": cutoff.date().isoformat(), "tune": args.tune}
    try:
        t = time.perf_counter()
        c = scan(args.corpus, cutoff, end)
        targets = targets_of(c)
        share = sum(1 for x in targets if x.truth & x.direct) / len(targets)
        print(f"scanned in {time.perf_counter() - t:.1f}s: {len(c.owners)} owners, "
              f"{len(c.before)} messages before {cutoff:%Y-%m-%d}, {len(c.after)} after, "
              f"{len(targets)} targets", file=sys.stderr)
        report.update(owners=len(c.owners), targets=len(targets), direct_share=share,
                      runs={})
        for hl in [] if args.skip_eval else args.half_life:
            db, config, secs = import_before(c, args.corpus, work, hl)
            print(f"imported (half-life {hl:g} days) in {secs:.1f}s", file=sys.stderr)
            results = evaluate(db, config, c, targets, cutoff)
            report["runs"][f"{hl:g}"] = results
            _print_table(results, share, hl, len(targets), cutoff)
        if not args.skip_performance:
            db, config, secs = import_before(c, args.corpus, work, args.half_life[0])
            if args.skip_eval:
                print(f"imported (half-life {args.half_life[0]:g} days) in {secs:.1f}s",
                      file=sys.stderr)
            perf = performance(db, config, targets, args.repeat)
            report["performance"] = perf
            _print_perf(perf)
            if args.synthetic_ties:
                syn = synthetic(work, args.synthetic_ties)
                report["synthetic"] = syn
                _print_synthetic(syn)
    finally:
        if tmp is not None:
            tmp.cleanup()
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"\nJSON written to {args.json_out}")
    return 0


def _print_table(results: dict[str, dict[str, float]], share: float, hl: float, n: int,
                 cutoff: datetime) -> None:
    ours = results["syncd who-knows"]
    print(f"\nWho-knows on Enron, cutoff {cutoff:%Y-%m-%d}, {n} targets, half-life {hl:g} "
          "days")
    print(f"{'ranking':22} {'MRR':>7} {'hit@5':>7}")
    for name, r in results.items():
        print(f"{name:22} {r['MRR']:7.3f} {r['hit@5']:7.3f}")
    print(f"{'direct share':22} {'':>7} {share:7.3f}")
    others = [r for k, r in results.items() if k != "syncd who-knows"]
    beat = all(ours["MRR"] > r["MRR"] and ours["hit@5"] > r["hit@5"] for r in others)
    print(f"beats every baseline on both metrics: {'yes' if beat else 'NO'}; "
          f"hit@5 above the direct share: {'yes' if ours['hit@5'] > share else 'NO'} "
          f"({ours['hits_by_indirect_evidence_only']:.3f} of targets hit only through "
          "indirect evidence)")


def _print_perf(p: dict[str, Any]) -> None:
    print("\nPerformance on the Enron import")
    rows = [
        ("python -c 'import sqlalchemy, networkx'", f"{p['import_floor_seconds']:.3f} s", ""),
        ("syncd who-knows (process)", f"{p['who_knows_process_seconds']:.3f} s",
         f"{p['who_knows_over_floor']:.2f}x floor (target <= 1.5x)"),
        ("  same, CPU time: floor / who-knows",
         f"{p['import_floor_cpu_seconds']:.3f} s",
         f"{p['who_knows_process_cpu_seconds']:.3f} s = {p['who_knows_over_floor_cpu']:.2f}x"),
        ("who-knows query (in process)", f"{p['who_knows_query_seconds']:.3f} s", ""),
        ("path k=3 (query, local search)", f"{p['path_query_seconds']:.3f} s", "target < 1 s"),
        ("path k=3 (query, whole graph loaded)", f"{p['path_query_loaded_graph_seconds']:.3f} s",
         "same answer"),
        ("syncd path (process)", f"{p['path_process_seconds']:.3f} s", ""),
        ("load whole graph", f"{p['graph_load_seconds']:.3f} s",
         f"{p['graph_persons']} persons, {p['graph_ties']} ties (target < 2 s)"),
        ("graph memory", f"{p['graph_rss_mb']:.0f} MB",
         f"process RSS {p['process_rss_mb']:.0f} MB, peak {p['peak_rss_mb']:.0f} MB"),
    ]
    for name, value, note in rows:
        print(f"{name:40} {value:>10}  {note}")


def _print_synthetic(s: dict[str, Any]) -> None:
    print(f"\nSynthetic graph: {s['ties']} ties over {s['persons']} persons "
          f"(written in {s['build_seconds']:.1f}s)")
    print(f"{'load whole graph':40} {s['graph_load_seconds']:10.3f} s")
    print(f"{'who-knows query (in process)':40} {s['who_knows_query_seconds']:10.3f} s")
    print(f"{'syncd who-knows (process)':40} {s['who_knows_process_seconds']:10.3f} s")
    print(f"{'path k=3 (query, local search)':40} {s['path_query_seconds']:10.3f} s")
    print(f"{'path k=3 (whole graph loaded)':40} {s['path_query_loaded_graph_seconds']:10.3f} s")
    print(f"{'graph memory / process RSS':40} {s['graph_rss_mb']:8.0f} MB / "
          f"{s['process_rss_mb']:.0f} MB (peak {s['peak_rss_mb']:.0f} MB)")


if __name__ == "__main__":
    sys.exit(main())
