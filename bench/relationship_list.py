"""Relationship list benchmark: `syncd relationship --list` over thousands of contacts.

A generated company (default: 40 reps, 700 accounts, about 2,400 contacts, 12,000 emails,
800 meetings, 300 calls, written as Maildir and .ics and imported by the files connector into
a fresh SQLite file; bigger with --messages etc.), then, in the same run, over the same store:

- list: `relationship_list` for every contact (`--list --all --limit 0`), in process;
- cli: `syncd relationship --list --all --limit 0 --json` as a process, and `syncd --version`
  as a process (the start-up every command pays, for reference);
- baseline: the obvious way, one `relationship()` (the single-record view) per contact;
- floor: one GROUP BY counting each contact's activities of the two periods, nothing else.

Accounts are timed the same way, for information. Target (issue 8 asks that "--list over
thousands of contacts must stay fast"; the number is ours): the contact list takes at most 1 s
in process and is at least 10x faster than the per-record baseline. Prints a table and writes
JSON (default bench/results/relationship_list.json).

    python bench/relationship_list.py [--accounts 700] [--messages 12000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from syncd.analytics.report import relationship, relationship_list  # noqa: E402
from syncd.analytics.targets import records  # noqa: E402
from syncd.app import App  # noqa: E402
from syncd.config import Settings  # noqa: E402
from syncd.crm import import_accounts, import_contacts, import_leads  # noqa: E402
from syncd.demo import generate  # noqa: E402
from syncd.demo.writers import write_crm_csv, write_ics, write_maildir  # noqa: E402
from syncd.importer import run_import  # noqa: E402
from syncd.runner import ensure_user  # noqa: E402
from syncd.store import models as m  # noqa: E402
from syncd.store.db import session_scope  # noqa: E402

AS_OF = datetime(2026, 10, 28, tzinfo=UTC)  # the generator's default span ends 2026-10-27
DAYS = 90
TARGET_LIST_SECONDS = 1.0
TARGET_RATIO = 10.0


def build(work: Path, args: argparse.Namespace) -> tuple[App, dict[str, int]]:
    company = generate(args.seed, users=args.users, accounts=args.accounts,
                       messages=args.messages, events=args.events, calls=args.calls)
    settings = Settings(database_url=f"sqlite:///{work / 'syncd.db'}",
                        internal_domains=(company.domain,), state_dir=work / "state")
    app = App(settings)
    if (work / ".complete").exists():  # --keep: built by an earlier run
        return app, _sizes(app)
    write_crm_csv(company, work / "crm")
    write_maildir(company, work / "mail")
    write_ics(company, work / "mail")
    now = datetime.now(UTC)
    with session_scope(app.sessions) as s:
        for user in company.users:
            ensure_user(s, user.email, user.name, app.policy, now)
        import_accounts(s, work / "crm" / "accounts.csv")
        import_contacts(s, work / "crm" / "contacts.csv", app.policy)
        import_leads(s, work / "crm" / "leads.csv", app.policy)
    for user in company.users:
        folder = work / "mail" / user.email.split("@")[0]
        if folder.exists():
            run_import(app, [folder], mailbox=user.email)
    (work / ".complete").touch()
    return app, _sizes(app)


def _sizes(app: App) -> dict[str, int]:
    with session_scope(app.sessions) as s:
        return {name: s.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("interactions", m.Interaction),
                                    ("activities", m.Activity), ("contacts", m.Contact),
                                    ("accounts", m.Account), ("links", m.ActivityLink))}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def floor_query(app: App, kind: str) -> int:
    i, a, al = m.Interaction, m.Activity, m.ActivityLink
    with session_scope(app.sessions) as s:
        rows = s.execute(select(al.target_id, func.count()).join(a, a.id == al.activity_id)
                         .join(i, i.id == a.interaction_id)
                         .where(al.target_type == kind,
                                i.occurred_at >= AS_OF - timedelta(days=2 * DAYS))
                         .group_by(al.target_id)).all()
    return len(rows)


def listing(app: App, kind: str) -> int:
    with session_scope(app.sessions) as s:
        return len(relationship_list(s, kind, app.settings.analytics, days=DAYS, as_of=AS_OF,
                                     everyone=True))


def per_record(app: App, kind: str) -> int:
    with session_scope(app.sessions) as s:
        recs = records(s, kind)
        for rec in recs.values():
            relationship(s, rec, app.settings.analytics, days=DAYS, as_of=AS_OF)
    return len(recs)


def startup(app: App, kind: str) -> int:
    subprocess.run([sys.executable, "-m", "syncd", "--version"], check=True,
                   capture_output=True)
    return 0


def cli(app: App, kind: str) -> int:
    env = dict(os.environ, SYNCD_DATABASE_URL=app.settings.db_url,
               SYNCD_STATE_DIR=str(app.settings.state_dir))
    out = subprocess.run(
        [sys.executable, "-m", "syncd", "--quiet", "relationship", "--list", "--kind", kind,
         "--all", "--limit", "0", "--as-of", "2026-10-27", "--json"],
        env=env, check=True, capture_output=True, text=True).stdout
    return len(json.loads(out)["items"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--accounts", type=int, default=700)
    parser.add_argument("--messages", type=int, default=12000)
    parser.add_argument("--events", type=int, default=800)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-repeat", type=int, default=1,
                        help="runs of the slow per-record baseline")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the store in DIR and keep it (reused when present)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" /
                        "relationship_list.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-bench-rel-") as tmp:
        started = time.perf_counter()
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        app, sizes = build(work, args)
        print(f"store: {sizes} (built in {time.perf_counter() - started:.0f} s)")
        try:
            results: dict[str, Any] = {"sizes": sizes, "as_of": AS_OF.isoformat(),
                                       "days": DAYS, "kinds": {}}
            for kind in ("contact", "account"):
                row: dict[str, Any] = {}
                for name, fn, n in (("floor", floor_query, args.repeat),
                                    ("list", listing, args.repeat),
                                    ("cli", cli, args.repeat),
                                    ("startup", startup, args.repeat),
                                    ("baseline", per_record, args.baseline_repeat)):
                    seconds, count = timed(partial(fn, app, kind), n)
                    row[name] = {"median_s": round(seconds, 4), "records": count, "runs": n}
                row["list_vs_baseline"] = round(row["baseline"]["median_s"]
                                                / row["list"]["median_s"], 1)
                row["list_vs_floor"] = round(row["list"]["median_s"]
                                             / row["floor"]["median_s"], 1)
                row["target_met"] = (row["list"]["median_s"] <= TARGET_LIST_SECONDS
                                     and row["list_vs_baseline"] >= TARGET_RATIO)
                results["kinds"][kind] = row
        finally:
            app.close()
    print(f"\n{'kind':<8} {'records':>7} {'floor s':>8} {'list s':>8} {'cli s':>7} "
          f"{'start-up s':>10} {'per-record s':>12} {'list/floor':>10} {'baseline/list':>13}"
          "  target")
    for kind, row in results["kinds"].items():
        print(f"{kind:<8} {row['list']['records']:>7} {row['floor']['median_s']:>8.3f} "
              f"{row['list']['median_s']:>8.3f} {row['cli']['median_s']:>7.2f} "
              f"{row['startup']['median_s']:>10.2f} "
              f"{row['baseline']['median_s']:>12.2f} {row['list_vs_floor']:>9.1f}x "
              f"{row['list_vs_baseline']:>12.1f}x  "
              f"{('met' if row['target_met'] else 'NOT met') if kind == 'contact' else '-'}")
    print(f"target (contacts): list <= {TARGET_LIST_SECONDS} s and >= {TARGET_RATIO}x faster "
          "than per-record (medians)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
