"""The duplicate finder: pure code from records to scored candidate pairs (no database here).

How a pair is scored. Strong keys decide alone: the same normalised address is a duplicate
(score 1.0); the same E.164 phone with at least roughly similar names scores at least 0.95.
Otherwise the score is a weighted mean of per-field similarities over the fields *both* records
have (RapidFuzz's token-sort ratio for names and companies, so word order and accents do not
matter; the plain edit ratio for the extra attributes), then:
- a name-only comparison (no second field to confirm it) is scaled by 0.9, because two people
  can share a name: it is reported only when the names are near-identical;
- two names (or, for accounts, two company names) that are less than 60 % alike cap the score at
  that similarity: a shared switchboard number or company never makes two people one, unless
  an attribute named in `Options.identifiers` (a national id, a customer number) is equal.

How it scales (blocking). Only records sharing a blocking key are compared: the address, the
phone, the company domain, 3-letter prefixes and suffixes of each name/company word (so one typo
leaves a key in common), and the extra attributes marked for blocking. A block bigger than
`max_block` (a common first name, a big company's domain) is compared by sorted neighbourhood:
sorted by name, each record meets the next `window` ones. Work is O(n · keys · block), not O(n²).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from syncd.lifecycle.normalize import company as norm_company
from syncd.lifecycle.normalize import person_name, phone_e164

NAME_WEIGHT = 3.0
COMPANY_WEIGHT = 2.0
PHONE_WEIGHT = 2.0
DOMAIN_WEIGHT = 2.0
NAME_ONLY_FACTOR = 0.9
NAME_GATE = 0.6


@dataclass(frozen=True)
class Record:
    """What the finder compares. `email` is a normalised address, `domains` the non-free-mail
    company domains, `extra` further identifying attributes (city, postcode, birth date...)."""

    id: int | str
    name: str = ""
    email: str = ""
    phone: str = ""
    company: str = ""
    domains: frozenset[str] = frozenset()
    extra: Mapping[str, str] = field(default_factory=dict)
    # Records in the same non-empty group are never paired when the finder links two sources.
    group: str = ""


@dataclass(frozen=True)
class Candidate:
    a: int | str
    b: int | str
    score: float
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "score": round(self.score, 3),
                "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Options:
    threshold: float = 0.8
    phone_region: str = "FR"
    # weight of each extra attribute in the mean (attributes not listed weigh 1)
    extra_weights: Mapping[str, float] = field(default_factory=dict)
    # extra attributes whose exact value is a blocking key
    block_on: tuple[str, ...] = ()
    # extra attributes that identify a person (a national id, a customer number): when they
    # are equal, different names no longer cap the score (a married name, a nickname)
    identifiers: tuple[str, ...] = ()
    max_block: int = 200
    window: int = 20
    cross_groups_only: bool = False


@dataclass(frozen=True)
class _Prepared:
    rec: Record
    name: str
    company: str
    phone: str
    extra: Mapping[str, str]


def _prepare(rec: Record, opts: Options) -> _Prepared:
    extra = {k: " ".join(v.lower().split()) for k, v in rec.extra.items() if v and v.strip()}
    return _Prepared(rec, person_name(rec.name), norm_company(rec.company),
                     phone_e164(rec.phone, opts.phone_region) if rec.phone else "", extra)


def _ratio(a: str, b: str) -> float:
    return fuzz.token_sort_ratio(a, b) / 100.0


def score_pair(x: _Prepared, y: _Prepared, opts: Options) -> tuple[float, list[str]]:
    """Score in [0, 1] and the reasons. Symmetric in x and y (property-tested)."""
    reasons: list[str] = []
    if x.rec.email and x.rec.email == y.rec.email:
        return 1.0, [f"same address {x.rec.email}"]
    total = weight = 0.0
    gate: float | None = None
    fields = 0
    if x.name and y.name:
        sim = _ratio(x.name, y.name)
        total, weight, fields = total + NAME_WEIGHT * sim, weight + NAME_WEIGHT, fields + 1
        gate = sim
        reasons.append("same name" if sim == 1.0 else f"names {sim:.0%} alike")
    same_phone = bool(x.phone) and x.phone == y.phone
    if x.phone and y.phone:
        total += PHONE_WEIGHT * same_phone
        weight += PHONE_WEIGHT
        fields += 1
        if same_phone:
            reasons.append(f"same phone {x.phone}")
    shared = x.rec.domains & y.rec.domains
    if x.rec.domains and y.rec.domains:
        total += DOMAIN_WEIGHT * bool(shared)
        weight += DOMAIN_WEIGHT
        fields += 1
        if shared:
            reasons.append(f"same domain {min(shared)}")
    if x.company and y.company:
        sim = _ratio(x.company, y.company)
        total, weight, fields = total + COMPANY_WEIGHT * sim, weight + COMPANY_WEIGHT, fields + 1
        if gate is None:
            gate = sim
        if sim >= 0.8:
            reasons.append("same company" if sim == 1.0 else f"companies {sim:.0%} alike")
    matched_extra = []
    for key in sorted(x.extra.keys() & y.extra.keys()):
        w = opts.extra_weights.get(key, 1.0)
        sim = fuzz.ratio(x.extra[key], y.extra[key]) / 100.0
        total, weight, fields = total + w * sim, weight + w, fields + 1
        if sim >= 0.9:
            matched_extra.append(key)
    if matched_extra:
        reasons.append("same " + ", ".join(matched_extra))
    if weight == 0:
        return 0.0, []
    score = total / weight
    if fields == 1 and gate is not None:
        score *= NAME_ONLY_FACTOR
        reasons.append("nothing else to compare")
    if same_phone and (gate is None or gate >= 0.5):
        score = max(score, 0.95)
    same_id = [k for k in opts.identifiers if k in x.extra and x.extra[k] == y.extra.get(k)]
    if same_id:
        reasons.append("same identifier " + ", ".join(same_id))
    elif gate is not None and gate < NAME_GATE:
        score = min(score, gate)
    return score, reasons


def _blocking_keys(p: _Prepared, opts: Options) -> set[str]:
    keys: set[str] = set()
    if p.rec.email:
        keys.add("e:" + p.rec.email)
    if p.phone:
        keys.add("p:" + p.phone)
    keys.update("d:" + d for d in p.rec.domains)
    for prefix, text in (("n", p.name), ("c", p.company)):
        for token in text.split():
            if len(token) >= 3:
                keys.add(f"{prefix}<{token[:3]}")
                keys.add(f"{prefix}>{token[-3:]}")
    for attr in opts.block_on:
        if attr in p.extra:
            keys.add(f"x:{attr}:{p.extra[attr]}")
    return keys


def _block_pairs(members: Sequence[int], prepared: Sequence[_Prepared],
                 opts: Options) -> Iterator[tuple[int, int]]:
    if len(members) <= opts.max_block:
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                yield a, b
        return
    # The tie-breaker is the record id, not its position, so the result ignores input order.
    ordered = sorted(members, key=lambda i: (prepared[i].name, prepared[i].company,
                                             str(prepared[i].rec.id)))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:i + 1 + opts.window]:
            yield a, b


def candidate_pairs(prepared: Sequence[_Prepared], opts: Options) -> set[tuple[int, int]]:
    """Index pairs (i < j) sharing at least one blocking key."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(prepared):
        for key in _blocking_keys(p, opts):
            blocks[key].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) < 2:
            continue
        for a, b in _block_pairs(members, prepared, opts):
            if opts.cross_groups_only and prepared[a].rec.group == prepared[b].rec.group:
                continue
            pairs.add((a, b) if a < b else (b, a))
    return pairs


def find_duplicates(records: Iterable[Record], opts: Options | None = None) -> list[Candidate]:
    """Likely duplicate pairs scoring at least `opts.threshold`, best first."""
    opts = opts or Options()
    prepared = [_prepare(r, opts) for r in records]
    out = []
    for i, j in candidate_pairs(prepared, opts):
        score, reasons = score_pair(prepared[i], prepared[j], opts)
        if score >= opts.threshold:
            out.append(Candidate(prepared[i].rec.id, prepared[j].rec.id, score, tuple(reasons)))
    out.sort(key=lambda c: (-c.score, str(c.a), str(c.b)))
    return out


def compare(a: Record, b: Record, opts: Options | None = None) -> tuple[float, list[str]]:
    """Score one pair directly (no blocking): for tests and `syncd merge` previews."""
    opts = opts or Options()
    return score_pair(_prepare(a, opts), _prepare(b, opts), opts)
