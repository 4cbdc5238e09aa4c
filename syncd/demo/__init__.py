"""Deterministic demo data: a French SMB sales team's mailboxes, calendars and Teams calls.

Used by the README demo, the local Microsoft 365 sandbox (which serves these mailboxes over
Graph and EWS) and the benchmarks. ``generate(seed)`` returns a ``DemoCompany`` whose
``messages()``, ``events()`` and ``calls()`` stream the same bytes for the same seed and
parameters; ``writers`` puts them on disk as Maildir, iCalendar and CRM CSV files::

    from pathlib import Path
    from syncd.demo import generate, write_maildir, write_ics, write_crm_csv

    company = generate(42)                       # 8 reps, 25 accounts, 2,000 messages
    write_maildir(company, Path("demo/mail"))    # demo/mail/<user>/{inbox,sentitems}/cur/...
    write_ics(company, Path("demo/mail"))        # demo/mail/<user>/calendar.ics
    write_crm_csv(company, Path("demo/crm"))     # accounts.csv, contacts.csv, leads.csv
"""

from syncd.demo.generator import (
    DEFAULT_START,
    MALFORMED_KINDS,
    DemoAccount,
    DemoAttendee,
    DemoCall,
    DemoCompany,
    DemoEvent,
    DemoMessage,
    DemoPerson,
    generate,
)
from syncd.demo.writers import write_crm_csv, write_ics, write_maildir

__all__ = [
    "DEFAULT_START",
    "MALFORMED_KINDS",
    "DemoAccount",
    "DemoAttendee",
    "DemoCall",
    "DemoCompany",
    "DemoEvent",
    "DemoMessage",
    "DemoPerson",
    "generate",
    "write_crm_csv",
    "write_ics",
    "write_maildir",
]
