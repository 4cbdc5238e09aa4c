"""The lead lifecycle: leads in, qualification, opportunity stages, duplicates and merges.

Modules: `leads` (create or update a lead without duplicating a lead or a contact: CLI, CSV,
forms, auto-capture; a new lead is compared with the contacts too), `qualify` (lead -> account
+ contact + opportunity, safe under concurrency, and disqualification), `stages` (opportunity
stages and their Dynamics 365 fields), `dedup` (the pure duplicate finder), `duplicates` (the
finder over the store), `merge` (merge two records keeping everything).

Every change appends its event to the outbox (`events`) in the same transaction. Payloads:

- `lead.created`: {"lead_id", "email", "source"} (the same keys from capture's auto-create
  and the CSV import in syncd.crm);
- `lead.qualified`: {"lead_id", "email", "account_id" (or null), "contact_id", "opportunity_id",
  "created": {"account": bool, "contact": bool}, "activities_moved": int};
- `lead.disqualified`: {"lead_id", "email", "reason"};
- `opportunity.stage_changed`: {"opportunity_id", "from_stage" (null when created),
  "to_stage", "status" ("open" | "won" | "lost"), "account_id", "contact_id", "lead_id"};
  closing emits it with to_stage "close" and status won/lost;
- `contact.merged`, `lead.merged`, `account.merged`: {"survivor_id", "merged_id", "moved":
  {"activities": n, "opportunities": n[, "contacts": n, "domains": n]}}.
"""

from __future__ import annotations


class LifecycleError(Exception):
    """A user mistake or an impossible request (unknown id, missing stage field, bad reason).

    The message is written for the person at the terminal; the CLI prints it without a
    traceback."""
