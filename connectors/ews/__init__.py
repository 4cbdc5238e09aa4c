"""Exchange Web Services connector (exchangelib) for on-premises and hybrid Exchange."""

from connectors.ews.connector import EwsConnector
from connectors.ews.settings import EwsSettings

__all__ = ["EwsConnector", "EwsSettings"]
