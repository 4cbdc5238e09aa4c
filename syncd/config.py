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
)

CONNECTOR_KINDS = ("msgraph", "ews", "files")
SECRET_PREFIXES = ("env:", "file:")
SECRET_FIELDS = frozenset({"client_secret", "client_certificate", "password"})


class ConfigError(Exception):
    """The configuration is unusable; `problems` lists every issue found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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

    _secret = field_validator("client_secret", "password")(_check_secret_ref)


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


class Settings(_Strict):
    """The whole validated configuration. `source` names the file it came from, if any."""

    state_dir: Path = Field(default_factory=lambda: default_state_dir())
    database_url: str | None = None
    internal_domains: tuple[str, ...] = ()
    policy: PolicyConfig = PolicyConfig()
    graph: GraphConfig = GraphConfig()
    connectors: tuple[ConnectorConfig, ...] = ()
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
