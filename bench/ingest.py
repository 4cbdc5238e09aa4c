"""Ingest benchmark: `syncd import` of the Enron corpus against notmuch and a parsing floor.

Rows, all over the same files in the same run:
- syncd import: the files connector + capture pipeline into a fresh SQLite file;
- notmuch new: Debian's notmuch indexing the same files into a fresh database (skipped with a
  message when notmuch is not installed: `apt-get install notmuch`);
- floor: the standard library's header-only parse of every file with address extraction.

Targets (issue 2): syncd >= 8x notmuch's messages/s, and syncd's time <= 2x the floor's.
Prints a table and writes JSON (default bench/results/ingest.json). Medians over --repeat runs.

    python bench/ingest.py [--corpus DIR] [--repeat 3] [--limit N] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import email.utils
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "enron" / "maildir"


def list_files(root: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return files[:limit] if limit else files


def run_floor(files: list[Path]) -> float:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    started = time.perf_counter()
    n = 0
    for path in files:
        msg = parser.parsebytes(path.read_bytes())
        values = [str(v) for k in ("from", "to", "cc", "bcc") for v in msg.get_all(k, [])]
        n += len(email.utils.getaddresses(values))
    elapsed = time.perf_counter() - started
    assert n > 0
    return elapsed


def children_cpu() -> float:
    """CPU seconds (user + system) of the reaped child processes and their descendants: the
    difference around one subprocess is that process's CPU, its prefetch child included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_syncd(corpus: Path, workdir: Path, limit_dir: Path | None
              ) -> tuple[float, dict[str, object]]:
    """One `syncd import --json` in a subprocess, as a user runs it, into a fresh database."""
    db = workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = dict(os.environ, SYNCD_DATABASE_URL=f"sqlite:///{db}", SYNCD_STATE_DIR=str(workdir),
               SYNCD_INTERNAL_DOMAINS="enron.com")
    env.pop("SYNCD_CONFIG", None)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "syncd", "--quiet", "import", str(limit_dir or corpus),
         "--json"],
        env=env, check=True, capture_output=True, text=True, cwd=workdir,
    )
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(out.stdout)


def run_notmuch(corpus: Path, workdir: Path) -> float | None:
    if shutil.which("notmuch") is None:
        return None
    dbdir = workdir / "notmuch-db"
    shutil.rmtree(dbdir, ignore_errors=True)
    dbdir.mkdir()
    cfg = workdir / "notmuch-config"
    cfg.write_text(
        f"[database]\npath={dbdir}\nmail_root={corpus}\n[new]\ntags=new\n"
        "[maildir]\nsynchronize_flags=false\n", encoding="utf-8")
    env = dict(os.environ, NOTMUCH_CONFIG=str(cfg), HOME=str(workdir))
    started = time.perf_counter()
    subprocess.run(["notmuch", "new", "--quiet"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def limited_copy(files: list[Path], corpus: Path, workdir: Path) -> Path:
    """With --limit, symlink the chosen files so every row reads the same subset."""
    root = workdir / "subset"
    shutil.rmtree(root, ignore_errors=True)
    for f in files:
        dest = root / f.relative_to(corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="only the first N files")
    ap.add_argument("--json-out", type=Path, default=REPO / "bench" / "results" / "ingest.json")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus {args.corpus} not found (../shared/data/enron/maildir)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        work = Path(tmp)
        files = list_files(args.corpus, args.limit)
        corpus = limited_copy(files, args.corpus, work) if args.limit else args.corpus
        n = len(files)
        floor, syncd, notmuch = [], [], []
        cpu: dict[str, list[float]] = {"syncd": [], "notmuch": []}
        summary: dict[str, object] = {}
        for i in range(args.repeat):
            floor.append(run_floor(files))
            before = children_cpu()
            elapsed, summary = run_syncd(corpus, work, None)
            cpu["syncd"].append(children_cpu() - before)
            syncd.append(elapsed)
            before = children_cpu()
            nm = run_notmuch(corpus, work)
            if nm is not None:
                cpu["notmuch"].append(children_cpu() - before)
                notmuch.append(nm)
            nm_text = "-" if nm is None else f"{nm:.2f}s (CPU {cpu['notmuch'][-1]:.2f}s)"
            print(f"run {i + 1}/{args.repeat}: floor {floor[-1]:.2f}s, syncd {elapsed:.2f}s "
                  f"(CPU {cpu['syncd'][-1]:.2f}s), notmuch {nm_text}", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in
           (("floor", floor), ("syncd", syncd), ("notmuch", notmuch)) if v}
    rows = [("syncd import", med["syncd"]), ("floor (stdlib header parse)", med["floor"])]
    if "notmuch" in med:
        rows.append(("notmuch new", med["notmuch"]))
    print(f"\nIngest of {n} messages, median of {args.repeat} runs")
    print(f"{'row':32} {'seconds':>9} {'msg/s':>10}")
    for name, secs in rows:
        print(f"{name:32} {secs:9.2f} {n / secs:10.0f}")
    ratio_floor = med["syncd"] / med["floor"]
    med_cpu = {k: statistics.median(v) for k, v in cpu.items() if v}
    print("CPU seconds (process and its children, median): "
          + ", ".join(f"{k} {v:.2f}" for k, v in med_cpu.items())
          + "; the floor runs in this process: its CPU is about its time")
    print(f"\nsyncd time / floor time      = {ratio_floor:.2f}  (target <= 2.0)")
    result: dict[str, object] = {
        "messages": n, "repeat": args.repeat, "median_seconds": med,
        "messages_per_second": {k: n / v for k, v in med.items()},
        "median_cpu_seconds": med_cpu,
        "syncd_over_floor_time": ratio_floor, "import_summary": summary,
    }
    if "notmuch" in med:
        speedup = med["notmuch"] / med["syncd"]
        print(f"syncd msg/s / notmuch msg/s  = {speedup:.2f}  (target >= 8.0)")
        result["speedup_vs_notmuch"] = speedup
        if "notmuch" in med_cpu:
            cpu_speedup = med_cpu["notmuch"] / med_cpu["syncd"]
            print(f"in CPU seconds instead        = {cpu_speedup:.2f}")
            result["cpu_speedup_vs_notmuch"] = cpu_speedup
    else:
        print("notmuch row skipped: notmuch is not installed (apt-get install notmuch)")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"JSON written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
