"""Build connector objects from validated configuration, resolving secret references at use.

Connectors are imported lazily: `syncd status` should not pay for msal and O365.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from syncd.config import EwsConnector, MsGraphConnector, Settings, resolve_secret

if TYPE_CHECKING:
    from connectors.ews import EwsConnector as EwsConnectorImpl
    from connectors.ews import EwsSettings
    from connectors.msgraph import GraphConnector, GraphSettings


def token_cache_path(settings: Settings, connector: str) -> Path:
    """msal token caches live in the state directory, one per connector (0600, atomic)."""
    return settings.state_dir / "tokens" / f"{connector}.msal.json"


def _secret(ref: str | None) -> str | None:
    """The secret a reference points to; raises ConfigError when it cannot be resolved."""
    return resolve_secret(ref) if ref else None


def graph_settings(conn: MsGraphConnector, settings: Settings) -> GraphSettings:
    """Raises ConfigError when a secret reference cannot be resolved."""
    from connectors.msgraph import GraphSettings

    return GraphSettings(
        name=conn.name,
        tenant_id=conn.tenant_id,
        client_id=conn.client_id,
        client_secret=_secret(conn.client_secret),
        client_certificate_pem=_secret(conn.client_certificate),
        cloud=conn.cloud,
        authority_host=conn.authority_host,
        graph_url=conn.graph_url,
        ca_bundle=conn.ca_bundle,
        mailboxes=conn.mailboxes,
        group=conn.group,
        folders=conn.folders,
        calendar=conn.calendar,
        calendar_backfill_days=conn.calendar_backfill_days,
        calendar_horizon_days=conn.calendar_horizon_days,
        call_records=conn.call_records,
        max_concurrency_per_mailbox=conn.max_concurrency_per_mailbox,
        request_budget_per_10min=conn.request_budget_per_10min,
        token_cache_path=token_cache_path(settings, conn.name),
        delegated_username=conn.delegated_username,
    )


def build_graph_connector(conn: MsGraphConnector, settings: Settings) -> GraphConnector:
    from connectors.msgraph import GraphConnector

    return GraphConnector(graph_settings(conn, settings))


def ews_settings(conn: EwsConnector, settings: Settings) -> EwsSettings:
    """Raises ConfigError when a secret reference cannot be resolved."""
    from connectors.ews import EwsSettings

    return EwsSettings(
        name=conn.name,
        service_endpoint=conn.service_endpoint,
        autodiscover=conn.autodiscover,
        auth=conn.auth,
        tenant_id=conn.tenant_id,
        client_id=conn.client_id,
        client_secret=_secret(conn.client_secret),
        client_certificate_pem=_secret(conn.client_certificate),
        authority_host=conn.authority_host,
        username=conn.username,
        password=_secret(conn.password),
        ca_bundle=conn.ca_bundle,
        mailboxes=conn.mailboxes,
        folders=conn.folders,
        calendar=conn.calendar,
        calendar_backfill_days=conn.calendar_backfill_days,
        calendar_horizon_days=conn.calendar_horizon_days,
        impersonation=conn.impersonation,
        version=conn.version,
        page_size=conn.page_size,
        max_connections_per_mailbox=conn.max_connections_per_mailbox,
        max_retry_wait=conn.max_retry_wait,
        token_cache_path=token_cache_path(settings, conn.name),
    )


def build_ews_connector(conn: EwsConnector, settings: Settings) -> EwsConnectorImpl:
    from connectors.ews import EwsConnector as Impl

    return Impl(ews_settings(conn, settings))
