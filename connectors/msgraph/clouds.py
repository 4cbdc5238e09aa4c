"""National-cloud presets: where the identity platform and Microsoft Graph live for each cloud.

Source: "National cloud deployments" (learn.microsoft.com/graph/deployments). The token scope
is ``{resource}/.default``; the resource is the Graph root of that cloud, except for ``custom``
endpoints (a proxy or the local sandbox), which still serve the global Graph resource.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    """Resolved endpoints of one connector: authority host, Graph service root, scope resource."""

    authority_host: str  # "https://login.microsoftonline.com" (no tenant, no trailing slash)
    graph_url: str  # "https://graph.microsoft.com/v1.0/" (always ends with "/")
    resource: str  # "https://graph.microsoft.com": scopes are "{resource}/.default"

    @property
    def graph_root(self) -> str:
        """Scheme and host of the Graph URL with a trailing slash (O365's ``_protocol_url``)."""
        scheme, _, rest = self.graph_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/"

    @property
    def api_version(self) -> str:
        """The path after the host, e.g. ``v1.0``."""
        return self.graph_url[len(self.graph_root) :].strip("/") or "v1.0"


GLOBAL_RESOURCE = "https://graph.microsoft.com"

PRESETS: dict[str, CloudEndpoints] = {
    "global": CloudEndpoints(
        "https://login.microsoftonline.com", "https://graph.microsoft.com/v1.0/", GLOBAL_RESOURCE
    ),
    "usgov-l4": CloudEndpoints(
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us/v1.0/",
        "https://graph.microsoft.us",
    ),
    "usgov-l5": CloudEndpoints(
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us/v1.0/",
        "https://dod-graph.microsoft.us",
    ),
    "china": CloudEndpoints(
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn/v1.0/",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
}
CLOUD_NAMES = (*PRESETS, "custom")


def _with_scheme(url: str) -> str:
    url = url.strip()
    return url if "://" in url else f"https://{url}"


def resolve_cloud(
    cloud: str, authority_host: str | None = None, graph_url: str | None = None
) -> CloudEndpoints:
    """The endpoints for ``cloud``, with ``authority_host`` / ``graph_url`` overriding the preset.

    Raises: ValueError for an unknown cloud, or ``custom`` without both URLs.
    """
    name = cloud.strip().lower()
    if name == "custom":
        if not authority_host or not graph_url:
            raise ValueError("cloud 'custom' needs both authority_host and graph_url")
        base = CloudEndpoints("", "", GLOBAL_RESOURCE)
    elif name in PRESETS:
        base = PRESETS[name]
    else:
        raise ValueError(f"unknown cloud {cloud!r}: use one of {', '.join(CLOUD_NAMES)}")
    host = _with_scheme(authority_host).rstrip("/") if authority_host else base.authority_host
    graph = _with_scheme(graph_url).rstrip("/") + "/" if graph_url else base.graph_url
    return CloudEndpoints(host, graph, base.resource)
