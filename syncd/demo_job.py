"""The main job on the embedded default: a generated company, imported, and a question answered.

It goes through the same paths a user's data does: CSV import of the CRM, the files connector
for mailboxes and calendars, the capture pipeline, and the who-knows query.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncd.app import App
from syncd.config import Settings
from syncd.crm import import_accounts, import_contacts, import_leads
from syncd.importer import ImportReport, run_import
from syncd.queries import record_counts, who_knows
from syncd.runner import ensure_user
from syncd.store.db import session_scope


@dataclass
class DemoResult:
    company: str
    domain: str
    users: int
    accounts: int
    contacts: int
    database: str
    question: str
    answer: list[dict[str, Any]] = field(default_factory=list)
    import_summary: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    source: str = ""


def _company(seed: int, messages: int) -> Any:
    from syncd.demo import generate

    if messages < 10:
        raise ValueError("--messages must be at least 10")
    return generate(seed, messages=messages, events=max(20, messages // 20),
                    calls=max(10, messages // 50))


def _seed_directory_and_crm(app: App, company: Any, crm_dir: Path) -> None:
    """Colleagues with their names, then the CRM CSVs, as an admin would load them."""
    now = datetime.now(UTC)
    with session_scope(app.sessions) as s:
        for user in company.users:
            ensure_user(s, user.email, user.name, app.policy, now)
        import_accounts(s, crm_dir / "accounts.csv")
        import_contacts(s, crm_dir / "contacts.csv", app.policy)
        import_leads(s, crm_dir / "leads.csv", app.policy)


def demo_settings(settings: Settings, domain: str) -> Settings:
    """The demo company's domain is internal even when the configuration names none."""
    if domain in settings.internal_domains:
        return settings
    return settings.model_copy(update={"internal_domains": (*settings.internal_domains, domain)})


DEMO_CONNECTOR = "demo-m365"
DEMO_SECRET_ENV = "SYNCD_DEMO_SANDBOX_SECRET"


def sandbox_connector_settings(settings: Settings, sandbox: Any, client_id: str,
                               secret: str) -> Settings:
    """The configuration an admin would write for a tenant, pointed at the sandbox.

    The secret travels as an `env:` reference like any real one (set for this process only).
    """
    from syncd.config import MsGraphConnector

    os.environ[DEMO_SECRET_ENV] = secret
    conn = MsGraphConnector(
        kind="msgraph", name=DEMO_CONNECTOR, tenant_id=sandbox.tenant, client_id=client_id,
        client_secret=f"env:{DEMO_SECRET_ENV}", cloud="custom",
        authority_host=sandbox.base_url, graph_url=sandbox.graph_url,
        ca_bundle=sandbox.ca_path, group="Sales", call_records=True,
    )
    return settings.model_copy(update={"connectors": (conn,)})


def sandbox_config_toml(sandbox: Any, database_url: str, internal_domain: str,
                        secret_env: str, *, call_records: bool = True) -> str:
    """A syncd.toml for a msgraph connector on the sandbox (tests, benchmarks, scripts):
    the same file an admin writes for a tenant, with the sandbox's endpoints and CA."""
    return f"""database_url = "{database_url}"
internal_domains = ["{internal_domain}"]

[[connectors]]
kind = "msgraph"
name = "m365"
tenant_id = "{sandbox.tenant}"
client_id = "{next(iter(_default_clients()))}"
client_secret = "env:{secret_env}"
cloud = "custom"
authority_host = "{sandbox.base_url}"
graph_url = "{sandbox.graph_url}"
ca_bundle = "{sandbox.ca_path}"
group = "Sales"
call_records = {"true" if call_records else "false"}
"""


def _default_clients() -> dict[str, str]:
    from syncd.sandbox.server import DEFAULT_CLIENTS

    return DEFAULT_CLIENTS


def run_demo_graph(ctx: Any, *, seed: int, messages: int, data_dir: Path) -> DemoResult:
    """The main job: the demo company in the local Microsoft 365 sandbox, synced over HTTPS
    with real msal tokens by the msgraph connector, exactly as a tenant would be."""
    from syncd.demo.writers import write_crm_csv
    from syncd.sandbox import Sandbox
    from syncd.sandbox.server import DEFAULT_CLIENTS
    from syncd.sync import run_pass

    company = _company(seed, messages)
    base = demo_settings(ctx.settings, company.domain)
    data_dir.mkdir(parents=True, exist_ok=True)
    write_crm_csv(company, data_dir / "crm")
    with Sandbox(state_dir=data_dir / "sandbox", seed=seed) as sandbox:
        sandbox.seed_demo(company)
        client_id, secret = next(iter(DEFAULT_CLIENTS.items()))
        settings = sandbox_connector_settings(base, sandbox, client_id, secret)
        app = App(settings)
        try:
            _seed_directory_and_crm(app, company, data_dir / "crm")
            report = run_pass(app)
            result = _result(app, company, settings, report.as_json())
            result.source = (f"Microsoft Graph delta queries over HTTPS from the local Microsoft "
                             f"365 sandbox at {sandbox.base_url}, app-only msal token")
            return result
        finally:
            app.close()


def _result(app: App, company: Any, settings: Settings,
            summary: dict[str, Any]) -> DemoResult:
    # Ask about the account the team talks to most: a question with a real answer.
    by_domain = Counter(c.account for c in company.contacts if c.account)
    question_domain = by_domain.most_common(1)[0][0] if by_domain else company.domain
    with session_scope(app.sessions) as s:
        totals = record_counts(s)
        _, ranked, _ = who_knows(s, f"@{question_domain}", app.policy,
                                 settings.graph.half_life_days, limit=5)
    return DemoResult(
        company=company.name, domain=company.domain, users=len(company.users),
        accounts=len(company.accounts), contacts=len(company.contacts),
        database=settings.db_url, question=f"@{question_domain}",
        answer=[r.as_json() for r in ranked], import_summary=summary, totals=totals,
    )


def run_demo(ctx: Any, *, seed: int, messages: int, data_dir: Path) -> DemoResult:
    """The same company from files on disk (mbox/Maildir/.ics) through the files connector."""
    from syncd.demo.writers import write_crm_csv, write_ics, write_maildir

    company = _company(seed, messages)
    settings = demo_settings(ctx.settings, company.domain)
    app = App(settings)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        marker = data_dir / f".generated-seed{seed}-messages{messages}"
        if not marker.exists():  # regenerating would touch every file and force a re-read
            for old in data_dir.glob(".generated-*"):
                old.unlink()
            write_crm_csv(company, data_dir / "crm")
            write_maildir(company, data_dir / "mail")
            write_ics(company, data_dir / "mail")
            marker.touch()
        _seed_directory_and_crm(app, company, data_dir / "crm")
        total = ImportReport()
        for user in company.users:
            folder = data_dir / "mail" / user.email.split("@")[0]
            if not folder.exists():
                continue
            rep = run_import(app, [folder], mailbox=user.email)
            total.streams += rep.streams
            total.totals.add(rep.totals)
            total.seconds += rep.seconds
        summary = total.as_json()
        summary["items_seen"] = summary.pop("messages_seen")
        result = _result(app, company, settings, summary)
        result.source = f"Maildir and .ics files under {data_dir / 'mail'}"
        return result
    finally:
        app.close()
