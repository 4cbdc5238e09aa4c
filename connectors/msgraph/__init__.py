"""Microsoft Graph connector: Microsoft 365 mailboxes (mail folders, calendar) and the tenant's
Teams call records, through msal (tokens) and O365 (HTTP), against Graph v1.0.

Modules: settings (configuration and result records), clouds (national-cloud endpoints),
tokencache (the 0600 msal cache file), auth (msal tokens, device login), http (the CA-pinned
session), limits (per-mailbox concurrency and budget), transport (GET through O365 with
back-off and error mapping), operations (one function per Graph operation), directory
(mailboxes, folders), mail / calendar / calls (the streams), connector (`GraphConnector`).
"""

from connectors.msgraph.connector import GraphConnector
from connectors.msgraph.settings import CheckReport, GraphSettings, MailboxInfo

__all__ = ["CheckReport", "GraphConnector", "GraphSettings", "MailboxInfo"]
