"""Opportunity stages (qualify -> develop -> propose -> close) and their fields.

The stages and fields follow Dynamics 365 Sales' "Opportunity Sales Process" business process
flow (https://learn.microsoft.com/dynamics365/sales/work-with-opportunities). Each stage has
fields that must be filled before the opportunity may leave it; `advance` and `close` check them
and report every missing one at once, with the values each accepts.

- qualify: purchase_timeframe, estimated_budget, purchase_process and
  decision_maker_identified = yes are required to leave it;
- develop: customer_need, proposed_solution, stakeholders (competitors optional);
- propose: proposal_presented = yes (sales_team, internal_review_done optional);
- close: won needs final_proposal_presented = yes and decision_date; lost needs close_reason
  (actual_revenue optional, the estimated budget when won without it).

Closing as lost is allowed from any stage (a deal can die early); closing as won needs every
earlier stage complete. A closed opportunity is read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from sqlalchemy.orm import Session

from syncd.lifecycle import LifecycleError
from syncd.lifecycle.records import emit
from syncd.store import models as m
from syncd.store.models_lifecycle import OpportunityStageChange

STAGES = ("qualify", "develop", "propose", "close")
Kind = Literal["text", "bool", "money", "date", "choice"]
Value = str | bool | Decimal | date | None


@dataclass(frozen=True)
class FieldSpec:
    name: str
    stage: str
    kind: Kind
    label: str
    required: bool = False
    must_be_true: bool = False
    choices: tuple[str, ...] = ()

    def accepts(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return {"text": "text", "bool": "yes or no", "money": "an amount, e.g. 12000 or 12 000,50",
                "date": "a date, YYYY-MM-DD or DD/MM/YYYY"}[self.kind]


FIELDS: dict[str, FieldSpec] = {f.name: f for f in (
    FieldSpec("purchase_timeframe", "qualify", "choice", "Purchase timeframe", required=True,
              choices=("immediate", "this_quarter", "next_quarter", "this_year", "unknown")),
    FieldSpec("estimated_budget", "qualify", "money", "Estimated budget", required=True),
    FieldSpec("purchase_process", "qualify", "choice", "Purchase process", required=True,
              choices=("individual", "committee", "unknown")),
    FieldSpec("decision_maker_identified", "qualify", "bool", "Decision maker identified",
              required=True, must_be_true=True),
    FieldSpec("customer_need", "develop", "text", "Customer need", required=True),
    FieldSpec("proposed_solution", "develop", "text", "Proposed solution", required=True),
    FieldSpec("stakeholders", "develop", "text", "Stakeholders", required=True),
    FieldSpec("competitors", "develop", "text", "Competitors"),
    FieldSpec("sales_team", "propose", "text", "Sales team"),
    FieldSpec("proposal_presented", "propose", "bool", "Proposal presented", required=True,
              must_be_true=True),
    FieldSpec("internal_review_done", "propose", "bool", "Internal review done"),
    FieldSpec("final_proposal_presented", "close", "bool", "Final proposal presented"),
    FieldSpec("decision_date", "close", "date", "Decision date"),
    FieldSpec("actual_revenue", "close", "money", "Actual revenue"),
    FieldSpec("close_reason", "close", "text", "Close reason"),
)}
# What closing needs beyond the earlier stages' required fields.
WON_REQUIRES = ("final_proposal_presented", "decision_date")
LOST_REQUIRES = ("close_reason",)

_TRUE = {"yes", "y", "true", "1", "oui", "o", "vrai"}
_FALSE = {"no", "n", "false", "0", "non", "faux"}


def parse_value(spec: FieldSpec, raw: str) -> Value:
    """Turn what a user typed into the column's value; "" clears the field.
    Raises LifecycleError naming the field and what it accepts."""
    text = raw.strip()
    if not text:
        return None
    bad = LifecycleError(f"{spec.name}: {raw!r} is not {spec.accepts()}")
    if spec.kind == "text":
        return text
    if spec.kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise bad
    if spec.kind == "choice":
        low = re.sub(r"[\s-]+", "_", text.lower())
        if low in spec.choices:
            return low
        raise bad
    if spec.kind == "money":
        # French writing: spaces (also narrow no-break) between thousands, comma for decimals.
        cleaned = re.sub(r"[\s\u00a0\u202f€$]", "", text)
        if "," in cleaned and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")
        cleaned = cleaned.replace(",", "")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            raise bad from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            raise bad
        return amount.quantize(Decimal("0.01"))
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise bad


def parse_assignments(pairs: list[str] | tuple[str, ...]) -> dict[str, Value]:
    """`["estimated_budget=12 000", "decision_maker_identified=oui"]` -> typed values.
    Raises LifecycleError listing every bad assignment."""
    out: dict[str, Value] = {}
    problems = []
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            problems.append(f"{pair!r}: write FIELD=VALUE")
        elif name not in FIELDS:
            problems.append(f"{name!r} is not an opportunity field (fields: "
                            f"{', '.join(FIELDS)})")
        else:
            try:
                out[name] = parse_value(FIELDS[name], raw)
            except LifecycleError as exc:
                problems.append(str(exc))
    if problems:
        raise LifecycleError("; ".join(problems))
    return out


def _problem(opp: m.Opportunity, spec: FieldSpec) -> str | None:
    value = getattr(opp, spec.name)
    if value is None or value == "":
        return f"{spec.name} ({spec.accepts()})"
    if spec.must_be_true and value is not True:
        return f"{spec.name} must be yes"
    return None


def missing_for(opp: m.Opportunity, stages: tuple[str, ...],
                extra: tuple[str, ...] = ()) -> list[str]:
    """Every unmet requirement of `stages` (and of the named `extra` fields)."""
    specs = [f for f in FIELDS.values() if f.stage in stages and f.required]
    specs += [FIELDS[n] for n in extra]
    return [p for p in (_problem(opp, s) for s in specs) if p]


def _check_open(opp: m.Opportunity) -> None:
    if opp.status != "open":
        raise LifecycleError(f"opportunity #{opp.id} is closed ({opp.status}); it can no "
                             "longer change")


def set_fields(opp: m.Opportunity, values: dict[str, Value]) -> None:
    """Write field values (any stage's). Raises LifecycleError when the opportunity is closed."""
    if values:
        _check_open(opp)
    for name, value in values.items():
        setattr(opp, name, value)


def record_change(session: Session, opp: m.Opportunity, from_stage: str | None,
                  now: datetime) -> None:
    """History row and `opportunity.stage_changed` event for the opportunity's current state."""
    opp.stage_changed_at = now
    session.add(OpportunityStageChange(opportunity_id=opp.id, from_stage=from_stage,
                                       to_stage=opp.stage, status=opp.status, changed_at=now))
    emit(session, "opportunity.stage_changed", {
        "opportunity_id": opp.id, "from_stage": from_stage, "to_stage": opp.stage,
        "status": opp.status, "account_id": opp.account_id, "contact_id": opp.contact_id,
        "lead_id": opp.lead_id}, now)


def advance(session: Session, opp: m.Opportunity, values: dict[str, Value] | None = None) -> str:
    """Apply `values`, check the current stage is complete, move to the next stage.
    Returns the new stage. Raises LifecycleError listing every missing field."""
    _check_open(opp)
    set_fields(opp, values or {})
    index = STAGES.index(opp.stage)
    if index == len(STAGES) - 1:
        raise LifecycleError(f"opportunity #{opp.id} is at the last stage: close it with "
                             f"`syncd opportunity close {opp.id} --won|--lost`")
    missing = missing_for(opp, (opp.stage,))
    if missing:
        raise LifecycleError(
            f"opportunity #{opp.id} cannot leave stage {opp.stage}: missing "
            + "; ".join(missing) + f". Set them with `syncd opportunity advance {opp.id} "
            "--set FIELD=VALUE`.")
    before = opp.stage
    opp.stage = STAGES[index + 1]
    session.flush()
    record_change(session, opp, before, datetime.now(UTC))
    return opp.stage


def close(session: Session, opp: m.Opportunity, outcome: Literal["won", "lost"],
          values: dict[str, Value] | None = None) -> None:
    """Close as won (every stage complete, plus final proposal and decision date) or lost
    (a reason). Raises LifecycleError listing every missing field."""
    _check_open(opp)
    set_fields(opp, values or {})
    if outcome == "won":
        missing = missing_for(opp, STAGES[:3], WON_REQUIRES)
    else:
        missing = missing_for(opp, (), LOST_REQUIRES)
    if missing:
        raise LifecycleError(
            f"opportunity #{opp.id} cannot be closed as {outcome}: missing "
            + "; ".join(missing) + ". Set them with --set FIELD=VALUE.")
    now = datetime.now(UTC)
    before = opp.stage
    opp.stage, opp.status, opp.closed_at = "close", outcome, now
    if outcome == "won" and opp.actual_revenue is None:
        opp.actual_revenue = opp.estimated_budget
    session.flush()
    record_change(session, opp, before, now)


def as_json(opp: m.Opportunity) -> dict[str, object]:
    out: dict[str, object] = {
        "id": opp.id, "name": opp.name, "stage": opp.stage, "status": opp.status,
        "account_id": opp.account_id, "contact_id": opp.contact_id, "lead_id": opp.lead_id,
        "created_at": opp.created_at.isoformat(),
        "stage_changed_at": opp.stage_changed_at.isoformat() if opp.stage_changed_at else None,
        "closed_at": opp.closed_at.isoformat() if opp.closed_at else None,
    }
    for name in FIELDS:
        value = getattr(opp, name)
        out[name] = (str(value) if isinstance(value, Decimal)
                     else value.isoformat() if isinstance(value, date) else value)
    out["missing_to_advance"] = (missing_for(opp, (opp.stage,))
                                 if opp.status == "open" and opp.stage != "close" else [])
    return out
