"""Local Microsoft 365 sandbox: a loopback HTTPS server that the real msal and O365 libraries
talk to over real sockets.

    with Sandbox().start() as box:            # or python -m syncd.sandbox --port 8443
        box.seed_demo(syncd.demo.generate(42))
        # msal: authority=box.authority, instance_discovery=False, verify=str(box.ca_path)
        # Graph: box.graph_url ("https://127.0.0.1:PORT/v1.0/")

Modules: ``server`` (Sandbox, WSGI, CLI), ``idp`` (identity platform), ``graph_api`` (auth,
routing, directory, $batch), ``graph_mail`` / ``graph_calendar`` / ``graph_calls`` /
``subscriptions`` (the Graph resources), ``state`` (tenant data and change logs), ``faults``
(throttling and fault injection), ``seed`` (demo company, mail files), ``mime`` (RFC 5322 to
Graph message), ``calendar`` (recurrence, event JSON), ``clients`` (msal/O365/requests wired to
a sandbox, a webhook receiver), ``tls``, ``ids``, ``wire``; ``ews_api`` / ``ews_xml`` /
``ews_faults``: Exchange Web Services (``/EWS/Exchange.asmx``) over the same tenant.
"""

from syncd.sandbox.faults import FaultPlan
from syncd.sandbox.graph_api import RequestRecord
from syncd.sandbox.seed import SeedReport
from syncd.sandbox.server import Sandbox, main
from syncd.sandbox.state import GroundTruth, SandboxState
from syncd.sandbox.tls import ClientCertificate, generate_client_certificate

__all__ = [
    "ClientCertificate",
    "FaultPlan",
    "GroundTruth",
    "RequestRecord",
    "Sandbox",
    "SandboxState",
    "SeedReport",
    "generate_client_certificate",
    "main",
]
