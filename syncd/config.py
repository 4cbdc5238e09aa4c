"""Configuration: one TOML file, validated up front into immutable typed objects.

Lookup order for the file: `--config`, `$SYNCD_CONFIG`, `./syncd.toml`, `/etc/syncd/syncd.toml`;
with none of them the built-in defaults apply. Environment variables override the basics so that
scripts need no file: `SYNCD_DATABASE_URL`, `SYNCD_INTERNAL_DOMAINS`, `SYNCD_STATE_DIR`.

Secrets are never values in the file: a secret field holds a reference (`env:NAME` or
`file:PATH`; `file:` paths may be relative to `$CREDENTIALS_DIRECTORY`, which is where systemd's
`LoadCredential=` puts them). References are resolved only when used (`resolve_secret`).

Every problem in a file is reported at once, each naming the file, the key and the fix, e.g.
`syncd.toml: connectors[1].kind: 'msgrpah' is not one of msgraph, ews, files`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from syncd.problems import ProblemsError

CONNECTOR_KINDS = ("msgraph", "ews", "files")
SECRET_PREFIXES = ("env:", "file:")
SECRET_FIELDS = frozenset({"client_secret", "client_certificate", "password"})


class ConfigError(ProblemsError):
    """The configuration is unusable; `problems` lists every issue found, one line each."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_secret_ref(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(SECRET_PREFIXES):
        raise ValueError(
            "secrets must be references, not values: write 'env:VARIABLE' or 'file:PATH'"
        )
    return value


class PolicyConfig(_Strict):
    """What becomes a CRM activity. Defaults follow the privacy-first reading of DESIGN.md."""

    capture_internal_only: bool = False
    capture_automated: bool = False
    capture_private: Literal[False] = False  # private items are never captured; not negotiable
    auto_create: Literal["off", "contact", "lead"] = "off"
    link_accounts_by_domain: bool = True
    blocked_addresses: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    free_mail_domains_file: Path | None = None  # None: the list shipped in config/
    store_bodies: bool = False


class GraphConfig(_Strict):
    half_life_days: float = Field(default=90.0, gt=0)
    # People who opted out of the relationship graph: addresses or "@domain" entries. They form
    # no tie and appear in no graph answer (activities may still mention them).
    opt_out: tuple[str, ...] = ()


DEFAULT_DISQUALIFY_REASONS = ("lost", "cannot contact", "no longer interested", "canceled")


class LifecycleConfig(_Strict):
    """Lead lifecycle and duplicate finding (issue 8, syncd/lifecycle)."""

    # `syncd lead disqualify --reason` accepts only these (Dynamics 365's defaults).
    disqualify_reasons: tuple[str, ...] = Field(default=DEFAULT_DISQUALIFY_REASONS, min_length=1)
    # Region assumed for phone numbers written without an international prefix (ISO 3166).
    default_phone_region: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    # Pairs scoring at least this (0-1) are reported by `syncd duplicates`.
    duplicate_threshold: float = Field(default=0.8, ge=0.0, le=1.0)


class ActivityWeights(_Strict):
    """How much one activity of each kind counts toward contact volume (an email = 1)."""

    email: float = Field(default=1.0, ge=0)
    meeting: float = Field(default=3.0, ge=0)
    call: float = Field(default=2.0, ge=0)


class HealthWeights(_Strict):
    """Share of each component in the health score (normalised over those that apply)."""

    recency: float = Field(default=30.0, ge=0)
    volume: float = Field(default=30.0, ge=0)
    responsiveness: float = Field(default=20.0, ge=0)
    response_time: float = Field(default=10.0, ge=0)
    reciprocity: float = Field(default=10.0, ge=0)


class AnalyticsConfig(_Strict):
    """Relationship KPIs and health score (`syncd relationship`); formula in syncd/analytics."""

    period_days: int = Field(default=90, ge=1, le=3660)
    expected_contact_days: float = Field(default=14.0, gt=0)
    minutes_per_email: float = Field(default=5.0, ge=0)
    response_time_half_hours: float = Field(default=48.0, gt=0)
    good_from: float = Field(default=70.0, ge=0, le=100)
    fair_from: float = Field(default=40.0, ge=0, le=100)
    trend_points: float = Field(default=5.0, ge=0)
    weights: ActivityWeights = ActivityWeights()
    health: HealthWeights = HealthWeights()

    @model_validator(mode="after")
    def _coherent(self) -> AnalyticsConfig:
        if self.fair_from > self.good_from:
            raise ValueError("fair_from must not exceed good_from")
        if sum(self.health.model_dump().values()) <= 0:
            raise ValueError("at least one [analytics.health] weight must be positive")
        return self


class ServiceConfig(_Strict):
    """`syncd run` as a service: poll intervals per stream kind, budgets, leases, metrics."""

    mail_interval: float = Field(default=60.0, gt=0)  # seconds between polls of a mail folder
    calendar_interval: float = Field(default=300.0, gt=0)
    calls_interval: float = Field(default=900.0, gt=0)  # tenant call records
    files_interval: float = Field(default=300.0, gt=0)  # re-scan of a files connector's paths
    jitter: float = Field(default=0.1, ge=0, le=0.5)  # +/- share of the interval, spreads load
    mailbox_refresh_interval: float = Field(default=900.0, gt=0)  # re-list mailboxes/groups
    threads: int = Field(default=4, ge=1, le=64)  # mailboxes polled at once by one process
    tenant_polls_per_minute: int = Field(default=6000, ge=1)  # stream polls per connector
    lease_seconds: float = Field(default=60.0, ge=3)  # a dead worker's mailboxes free up after
    stop_timeout: float = Field(default=8.0, gt=0, le=60)  # SIGTERM: wait this long, then abandon
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # Prometheus; None: off
    metrics_address: str = "127.0.0.1"
    log_format: Literal["auto", "json", "text"] = "auto"  # auto: JSON unless on a terminal
    worker_id: str | None = None  # default: host:pid


class FilesConnector(_Strict):
    kind: Literal["files"]
    name: str
    paths: tuple[Path, ...] = ()
    mailbox: str | None = None


class MsGraphConnector(_Strict):
    kind: Literal["msgraph"]
    name: str
    tenant_id: str
    client_id: str
    client_secret: str | None = None
    client_certificate: str | None = None
    cloud: Literal["global", "usgov-l4", "usgov-l5", "china", "custom"] = "global"
    authority_host: str | None = None
    graph_url: str | None = None
    ca_bundle: Path | None = None
    mailboxes: tuple[str, ...] = ()
    group: str | None = None
    folders: tuple[str, ...] = ("inbox", "sentitems")
    calendar: bool = True
    calendar_backfill_days: int = Field(default=90, ge=0)
    calendar_horizon_days: int = Field(default=180, ge=0)
    call_records: bool = False
    max_concurrency_per_mailbox: int = Field(default=4, ge=1, le=4)
    request_budget_per_10min: int = Field(default=10000, ge=1)
    # Set by `syncd connector login`: sync this one user with a delegated (device code) token
    # instead of app-only credentials.
    delegated_username: str | None = None

    _secret = field_validator("client_secret", "client_certificate")(_check_secret_ref)


EWS_FOLDERS = ("inbox", "sentitems", "deleteditems", "junkemail", "archive", "outbox")


class EwsConnector(_Strict):
    kind: Literal["ews"]
    name: str
    service_endpoint: str | None = None
    autodiscover: bool = False
    auth: Literal["oauth2", "ntlm", "basic"] = "oauth2"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    ca_bundle: Path | None = None
    mailboxes: tuple[str, ...] = ()
    folders: tuple[str, ...] = ("inbox", "sentitems")
    calendar: bool = True
    # Issue 4 (connectors/ews): OAuth2 authority and certificate, impersonation, window, limits.
    authority_host: str = "https://login.microsoftonline.com"
    client_certificate: str | None = None
    impersonation: bool = True
    version: Literal["Exchange2013", "Exchange2013_SP1", "Exchange2016", "Exchange2019",
                     "Exchange_O365"] | None = None
    calendar_backfill_days: int = Field(default=90, ge=0)
    calendar_horizon_days: int = Field(default=180, ge=0)
    page_size: int = Field(default=100, ge=1, le=512)
    max_connections_per_mailbox: int = Field(default=4, ge=1, le=16)
    max_retry_wait: float = Field(default=30.0, ge=0)

    _secret = field_validator("client_secret", "password", "client_certificate")(
        _check_secret_ref)

    @model_validator(mode="after")
    def _complete(self) -> EwsConnector:
        problems = []
        if not self.service_endpoint and not self.autodiscover:
            problems.append("set service_endpoint (https://host/EWS/Exchange.asmx) or "
                            "autodiscover = true")
        if self.auth == "oauth2" and not (self.tenant_id and self.client_id
                                          and (self.client_secret or self.client_certificate)):
            problems.append("auth 'oauth2' needs tenant_id, client_id and client_secret or "
                            "client_certificate")
        if self.auth in ("ntlm", "basic") and not (self.username and self.password):
            problems.append(f"auth {self.auth!r} needs username and password")
        unknown = [f for f in self.folders if f.lower() not in EWS_FOLDERS]
        if unknown:
            problems.append(f"folders {unknown}: use well-known names ({', '.join(EWS_FOLDERS)})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _connector_tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        kind = value.get("kind")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)


ConnectorConfig = Annotated[
    Annotated[FilesConnector, Tag("files")]
    | Annotated[MsGraphConnector, Tag("msgraph")]
    | Annotated[EwsConnector, Tag("ews")],
    Discriminator(_connector_tag),
]


class TrackingConfig(_Strict):
    """Open and click tracking of mail sent by syncd (`syncd send`, workflow send_email)."""

    # HMAC key for pixel and link tokens: a secret reference (env:NAME / file:PATH).
    key: str | None = None
    # Where recipients reach `syncd serve` (pixel, links, forms): scheme://host[:port][/prefix]
    public_base_url: str = "http://127.0.0.1:8080"
    # An open (or click) within this many seconds of delivery is a machine (security scanner).
    machine_within_seconds: float = Field(default=10.0, ge=0)
    # More than burst_count opens of one message within burst_window_seconds: machine.
    burst_count: int = Field(default=3, ge=1)
    burst_window_seconds: float = Field(default=10.0, ge=0)
    # Extra user-agent substrings (case-insensitive) that mark a machine, beyond the built-ins.
    machine_user_agents: tuple[str, ...] = ()

    _secret = field_validator("key")(_check_secret_ref)


class WebConfig(_Strict):
    """`syncd serve`: the tracking and forms endpoint."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    forms_dir: Path | None = None  # default: forms/ beside the configuration file
    max_body_bytes: int = Field(default=16384, ge=256)
    # Per client IP: form posts per minute, and tracking hits per minute.
    form_posts_per_minute: int = Field(default=10, ge=1)
    tracking_hits_per_minute: int = Field(default=120, ge=1)
    # Behind a reverse proxy: the client IP from X-Forwarded-For, when set by a trusted proxy
    # ($FORWARDED_ALLOW_IPS, default 127.0.0.1; uvicorn's proxy headers). Else the peer.
    trust_forwarded_for: bool = False


class WorkflowsConfig(_Strict):
    """The workflow engine (`syncd workflows work`, and inside `syncd run`)."""

    dir: Path | None = None  # default: workflows/ beside the configuration file
    # The msgraph connector that sends mail (send_email, notify_owner by email, `syncd send`).
    send_connector: str | None = None
    # The mailbox mail is sent from when the lead has no owner.
    default_sender: str | None = None
    step_attempts: int = Field(default=3, ge=1, le=20)  # tenacity attempts before dead-letter
    step_retry_seconds: float = Field(default=2.0, ge=0)  # first wait, doubled each attempt
    lease_seconds: int = Field(default=300, ge=10)  # a claimed run's lease (crash recovery)
    poll_seconds: float = Field(default=2.0, gt=0)  # idle wait of `syncd workflows work`
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)


class Settings(_Strict):
    """The whole validated configuration. `source` names the file it came from, if any."""

    state_dir: Path = Field(default_factory=lambda: default_state_dir())
    database_url: str | None = None
    internal_domains: tuple[str, ...] = ()
    policy: PolicyConfig = PolicyConfig()
    graph: GraphConfig = GraphConfig()
    service: ServiceConfig = ServiceConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    connectors: tuple[ConnectorConfig, ...] = ()
    tracking: TrackingConfig = TrackingConfig()
    web: WebConfig = WebConfig()
    workflows: WorkflowsConfig = WorkflowsConfig()
    source: Path | None = None

    @field_validator("internal_domains")
    @classmethod
    def _lower_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().lower().lstrip("@") for d in value if d.strip())

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'syncd.db'}"

    def connector(self, name: str) -> ConnectorConfig:
        for c in self.connectors:
            if c.name == name:
                return c
        raise ConfigError([f"no connector named {name!r}"])


def default_state_dir() -> Path:
    env = os.environ.get("SYNCD_STATE_DIR")
    if env:
        return Path(env).expanduser()
    # systemd's StateDirectory= sets STATE_DIRECTORY for the service.
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path.home() / ".local" / "state" / "syncd"


def find_config_file(explicit: Path | None) -> Path | None:
    """Return the file to read, following the documented lookup order, or None."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError([f"{explicit}: no such configuration file"])
        return explicit
    env = os.environ.get("SYNCD_CONFIG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError([f"{path}: no such configuration file (from $SYNCD_CONFIG)"])
        return path
    for candidate in (Path("syncd.toml"), Path("/etc/syncd/syncd.toml")):
        if candidate.is_file():
            return candidate
    return None


def load_settings(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, merge with the environment and validate. Raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    path = find_config_file(explicit)
    raw: dict[str, Any] = {}
    label = path.name if path else "environment"
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path.name}: not valid TOML: {exc}"]) from exc
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    if env.get("SYNCD_DATABASE_URL"):
        raw["database_url"] = env["SYNCD_DATABASE_URL"]
    if env.get("SYNCD_INTERNAL_DOMAINS"):
        raw["internal_domains"] = [d for d in env["SYNCD_INTERNAL_DOMAINS"].split(",") if d]
    if env.get("SYNCD_STATE_DIR"):
        raw["state_dir"] = env["SYNCD_STATE_DIR"]
    if path is not None:
        raw["source"] = str(path)
        _resolve_relative_paths(raw, path.parent)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_errors(label, exc)) from None
    problems = _cross_checks(label, settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _resolve_relative_paths(raw: dict[str, Any], base: Path) -> None:
    """Relative paths in a file are relative to that file, as users expect."""
    for conn in raw.get("connectors", []) or []:
        if isinstance(conn, dict) and isinstance(conn.get("paths"), list):
            conn["paths"] = [str(base / p) if isinstance(p, str) else p for p in conn["paths"]]
    if isinstance(raw.get("state_dir"), str):
        raw["state_dir"] = str(base / Path(raw["state_dir"]).expanduser())
    for section, key in (("web", "forms_dir"), ("workflows", "dir")):
        sub = raw.get(section)
        if isinstance(sub, dict) and isinstance(sub.get(key), str):
            sub[key] = str(base / Path(sub[key]).expanduser())


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("files", "msgraph", "ews") and out.endswith("]"):
            continue  # pydantic puts the union tag in the path; users never wrote it
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_errors(label: str, exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = _loc(tuple(err["loc"]))
        kind = err["type"]
        if kind == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag")
            problems.append(
                f"{label}: {loc}.kind: {tag!r} is not one of {', '.join(CONNECTOR_KINDS)}"
            )
        elif kind == "union_tag_not_found":
            problems.append(
                f"{label}: {loc}.kind: missing; write one of {', '.join(CONNECTOR_KINDS)}"
            )
        elif kind == "extra_forbidden":
            problems.append(f"{label}: {loc}: unknown key (see config/syncd.example.toml)")
        elif kind == "missing":
            problems.append(f"{label}: {loc}: required key is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            # Never echo what was typed into a secret field: it may be the secret itself.
            secret = any(str(p) in SECRET_FIELDS for p in err["loc"])
            got = "" if secret else f" (got {err.get('input')!r})"
            problems.append(f"{label}: {loc}: {msg}{got}")
    return problems


def _cross_checks(label: str, settings: Settings) -> list[str]:
    problems = []
    seen: set[str] = set()
    for i, conn in enumerate(settings.connectors):
        if conn.name in seen:
            problems.append(f"{label}: connectors[{i}].name: {conn.name!r} is used twice")
        seen.add(conn.name)
        if isinstance(conn, MsGraphConnector):
            if not (conn.client_secret or conn.client_certificate or conn.delegated_username):
                problems.append(
                    f"{label}: connectors[{i}]: set client_secret or client_certificate "
                    "(as 'env:NAME' or 'file:PATH')"
                )
            if conn.cloud == "custom" and not (conn.authority_host and conn.graph_url):
                problems.append(
                    f"{label}: connectors[{i}]: cloud = 'custom' needs authority_host and graph_url"
                )
    return problems


def resolve_secret(reference: str, env: Mapping[str, str] | None = None) -> str:
    """Turn `env:NAME` / `file:PATH` into the secret. Raises ConfigError naming the reference
    (never the secret)."""
    env = os.environ if env is None else env
    if reference.startswith("env:"):
        name = reference[4:]
        if name not in env:
            raise ConfigError([f"secret {reference}: environment variable {name} is not set"])
        return env[name]
    if reference.startswith("file:"):
        path = Path(reference[5:])
        if not path.is_absolute() and env.get("CREDENTIALS_DIRECTORY"):
            path = Path(env["CREDENTIALS_DIRECTORY"]) / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"secret {reference}: cannot read {path}: {exc.strerror}"]) from exc
    raise ConfigError([f"secret {reference!r}: not a reference (use env:NAME or file:PATH)"])
