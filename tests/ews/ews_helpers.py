"""Helpers for the EWS connector tests: connector configurations for both Graph and EWS on the
same sandbox tenant, an App with the company's colleagues and CRM, and a store snapshot compared
by natural key. (A module of its own: `conftest` is a name every test directory has.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from syncd.app import App
from syncd.config import EwsConnector as EwsConf
from syncd.config import MsGraphConnector, Settings
from syncd.crm import import_accounts, import_contacts, import_leads
from syncd.demo import DemoCompany
from syncd.demo.writers import write_crm_csv
from syncd.runner import ensure_user
from syncd.sandbox import Sandbox
from syncd.store.db import session_scope

SECRET_ENV = "SYNCD_TEST_EWS_SECRET"
BACKFILL_DAYS, HORIZON_DAYS = 400, 180


def ews_conf(box: Sandbox, mailboxes: tuple[str, ...], **overrides: Any) -> EwsConf:
    """The configuration an admin writes for Exchange, pointed at the sandbox."""
    values: dict[str, Any] = dict(
        kind="ews", name="exchange", service_endpoint=box.ews_url, auth="oauth2",
        tenant_id=box.tenant, client_id="syncd-demo", client_secret=f"env:{SECRET_ENV}",
        authority_host=box.base_url, ca_bundle=box.ca_path, mailboxes=mailboxes,
        calendar_backfill_days=BACKFILL_DAYS, calendar_horizon_days=HORIZON_DAYS)
    values.update(overrides)
    return EwsConf(**values)


def graph_conf(box: Sandbox) -> MsGraphConnector:
    return MsGraphConnector(
        kind="msgraph", name="m365", tenant_id=box.tenant, client_id="syncd-demo",
        client_secret=f"env:{SECRET_ENV}", cloud="custom", authority_host=box.base_url,
        graph_url=box.graph_url, ca_bundle=box.ca_path, group="Sales", call_records=False,
        calendar_backfill_days=BACKFILL_DAYS, calendar_horizon_days=HORIZON_DAYS)


def make_app(db_url: str, state_dir: Path, company: DemoCompany, conn: Any,
             crm_dir: Path | None = None) -> App:
    """An App on ``db_url`` with the company's colleagues and (optionally) its CRM loaded."""
    app = App(Settings(database_url=db_url, internal_domains=(company.domain,),
                       connectors=(conn,), state_dir=state_dir))
    now = datetime.now(UTC)
    with session_scope(app.sessions) as s:
        for user in company.users:
            ensure_user(s, user.email, user.name, app.policy, now)
        if crm_dir is not None:
            import_accounts(s, crm_dir / "accounts.csv")
            import_contacts(s, crm_dir / "contacts.csv", app.policy)
            import_leads(s, crm_dir / "leads.csv", app.policy)
    return app


def write_crm(company: DemoCompany, directory: Path) -> Path:
    write_crm_csv(company, directory)
    return directory


def snapshot(app: App) -> dict[str, Any]:
    """The store compared by natural keys and addresses (ids differ between databases)."""
    with session_scope(app.sessions) as s:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(_plain(v) for v in r) for r in s.execute(text(sql)).all())

        interactions = rows(
            "SELECT natural_key, kind, occurred_at, ended_at, subject, thread_key, in_reply_to, "
            "direction, is_private, is_automated, is_cancelled, participant_count, captured "
            "FROM interactions")
        participants = rows(
            "SELECT i.natural_key, p.email, pa.role, pa.response FROM participants pa "
            "JOIN interactions i ON i.id = pa.interaction_id JOIN persons p ON p.id = "
            "pa.person_id")
        persons = rows("SELECT email, name, is_internal FROM persons")
        sightings = rows(
            "SELECT mb.address, i.natural_key, s.folder FROM sightings s "
            "JOIN streams st ON st.id = s.stream_id JOIN mailboxes mb ON mb.id = st.mailbox_id "
            "JOIN interactions i ON i.id = s.interaction_id WHERE s.deleted_at IS NULL")
        activities = rows(
            "SELECT i.natural_key, l.target_type FROM activities a "
            "JOIN interactions i ON i.id = a.interaction_id "
            "LEFT JOIN activity_links l ON l.activity_id = a.id")
        ties = rows(
            "SELECT pa.email, pb.email, t.a_to_b, t.b_to_a, t.meetings, t.calls, "
            "t.co_recipient, t.first_at, t.last_at, t.score, t.email_ab, t.email_ba, t.reply_ab, "
            "t.reply_ba, t.meeting_w, t.co_w, t.replies_ab, t.replies_ba FROM ties t "
            "JOIN persons pa ON pa.id = t.person_a JOIN persons pb ON pb.id = t.person_b")
    # Person ids (so which end of a tie is `a`) depend on arrival order: order by address.
    canonical = sorted(
        (a, b, ab, ba, m, c, co, first, last, score, *rest) if a < b
        else (b, a, ba, ab, m, c, co, first, last, score, *rest)
        for a, b, ab, ba, m, c, co, first, last, score, *rest in ties)
    return {"interactions": interactions, "participants": participants, "persons": persons,
            "sightings": sightings, "activities": activities, "ties": canonical}


def same_ties(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> bool:
    """Pairs, counts and first/last contact equal; decayed weights equal within 1 %.

    Why a tolerance: observed while writing this test, the decayed email weights of a pair
    differ by up to ~0.2 % between two syncs of the same data through the *same* connector
    (capture order across parallel mailbox threads; the tie model is issue 5's), so exact
    equality would test the thread schedule, not the connector.
    """
    if len(left) != len(right):
        return False
    for one, two in zip(left, right, strict=True):
        if one[:9] != two[:9] or one[-2:] != two[-2:]:
            return False
        for x, y in zip(one[9:-2], two[9:-2], strict=True):
            if abs(float(x) - float(y)) > 0.01 * max(abs(float(x)), abs(float(y)), 1e-9):
                return False
    return True


def _plain(value: Any) -> Any:
    """Raw SQL gives SQLite's stored text for a timestamp and PostgreSQL's datetime: one form."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
