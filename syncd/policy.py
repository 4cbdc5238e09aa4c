"""Capture policy: pure decisions about persons and interactions (no database access).

The capture pipeline gathers facts (who is a contact, a lead, which account owns a domain) and
asks this module what to do; `syncd explain` asks the same questions, so what it says is what
capture did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

from connectors.normalize import is_automated_address
from syncd.config import PolicyConfig, Settings


def load_domain_list(path: Path | None) -> frozenset[str]:
    if path is None:
        text = resources.files("syncd").joinpath("data/free_mail_domains.txt").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return frozenset(
        line.split("#", 1)[0].strip().lower()
        for line in text.splitlines()
        if line.split("#", 1)[0].strip()
    )


def domain_of(key: str) -> str:
    if key.startswith("x500:"):
        return ""
    return key.rpartition("@")[2]


@lru_cache(maxsize=65536)
def _in_domains(domain: str, domains: frozenset[str]) -> bool:
    """Exact domain or any parent (`mail.contoso.fr` is inside `contoso.fr`)."""
    if not domain:
        return False
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))


@dataclass(frozen=True)
class PersonFacts:
    """What capture knows about one participant when it decides."""

    email: str
    contact_id: int | None = None
    contact_account_id: int | None = None
    lead_id: int | None = None
    account_id_by_domain: int | None = None
    is_user: bool = False


@dataclass(frozen=True)
class Decision:
    captured: bool
    reasons: tuple[str, ...]
    links: tuple[tuple[str, int], ...] = ()  # (target_type, id)
    create_contacts: tuple[str, ...] = ()  # emails to auto-create as contacts
    create_leads: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"reasons": list(self.reasons), "links": [list(x) for x in self.links]}


@dataclass(frozen=True)
class Policy:
    config: PolicyConfig
    internal_domains: frozenset[str]
    blocked_addresses: frozenset[str] = field(default_factory=frozenset)
    blocked_domains: frozenset[str] = field(default_factory=frozenset)
    # Answers per address: capture asks the same questions about the same people on every page.
    _internal: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    _automated: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        cfg = settings.policy
        return cls(
            config=cfg,
            internal_domains=frozenset(settings.internal_domains),
            blocked_addresses=frozenset(a.strip().lower() for a in cfg.blocked_addresses),
            blocked_domains=frozenset(d.strip().lower().lstrip("@") for d in cfg.blocked_domains),
        )

    @cached_property
    def free_mail_domains(self) -> frozenset[str]:
        return load_domain_list(self.config.free_mail_domains_file)

    def is_internal(self, key: str) -> bool:
        known = self._internal.get(key)
        if known is None:
            known = self._internal[key] = _in_domains(domain_of(key), self.internal_domains)
        return known

    def is_blocked(self, key: str) -> bool:
        if not self.blocked_addresses and not self.blocked_domains:
            return False  # the common case, asked for every participant of every message
        return key in self.blocked_addresses or _in_domains(domain_of(key), self.blocked_domains)

    def is_free_mail(self, key: str) -> bool:
        return domain_of(key) in self.free_mail_domains

    def is_automated(self, key: str) -> bool:
        known = self._automated.get(key)
        if known is None:
            known = self._automated[key] = is_automated_address(key)
        return known

    def direction(self, sender: str | None, others: list[str], users: frozenset[str]) -> str:
        def internal(k: str) -> bool:
            return k in users or self.is_internal(k)

        s_int = sender is not None and internal(sender)
        any_int = any(internal(k) for k in others)
        any_ext = any(not internal(k) for k in others)
        if s_int:
            return "outbound" if any_ext else "internal"
        if sender is None:
            return "internal" if any_int and not any_ext else "external"
        return "inbound" if any_int else "external"

    def decide(
        self,
        *,
        kind: str,
        sender: str | None,
        is_private: bool,
        is_automated: bool,
        external: list[PersonFacts],
        blocked: list[str],
    ) -> Decision:
        """Decide whether an interaction becomes an activity, and what it links to.

        `external` lists the non-internal participants (already without blocked ones),
        `blocked` the blocklisted participants that were dropped.
        """
        reasons: list[str] = []
        if sender is not None and sender in blocked:
            return Decision(False, (f"sender {sender} is blocklisted",))
        if blocked:
            reasons.append(f"blocklisted participants left out: {', '.join(sorted(blocked))}")
        if is_private:
            return Decision(False, (*reasons, f"{kind} is marked private or confidential"))
        if is_automated and not self.config.capture_automated:
            return Decision(False, (*reasons, "automated sender (robot, bulk or auto-reply)"))
        if not external:
            if not self.config.capture_internal_only:
                return Decision(False, (*reasons, "internal-only: no external participant"))
            return Decision(True, (*reasons, "internal-only capture is enabled"))
        links: list[tuple[str, int]] = []
        creates_c: list[str] = []
        creates_l: list[str] = []
        for p in external:
            if p.contact_id is not None:
                links.append(("contact", p.contact_id))
                reasons.append(f"{p.email} is contact #{p.contact_id}")
                if p.contact_account_id is not None:
                    links.append(("account", p.contact_account_id))
            elif p.lead_id is not None:
                links.append(("lead", p.lead_id))
                reasons.append(f"{p.email} is lead #{p.lead_id}")
            elif self.is_automated(p.email) or self.is_free_mail(p.email):
                continue
            elif p.account_id_by_domain is not None:
                if self.config.auto_create == "contact":
                    creates_c.append(p.email)
                    reasons.append(f"{p.email} will become a contact of account "
                                   f"#{p.account_id_by_domain} (auto_create = contact)")
                elif self.config.auto_create == "lead":
                    creates_l.append(p.email)
                    reasons.append(f"{p.email} will become a lead (auto_create = lead)")
                if self.config.link_accounts_by_domain:
                    links.append(("account", p.account_id_by_domain))
                    reasons.append(
                        f"{p.email}'s domain belongs to account #{p.account_id_by_domain}"
                    )
            elif self.config.auto_create == "lead" and sender is not None:
                creates_l.append(p.email)
                reasons.append(f"{p.email} will become a lead (auto_create = lead)")
        if not links and not creates_c and not creates_l:
            return Decision(
                False,
                (*reasons, "no external participant is a known contact, lead or account"),
            )
        unique_links = tuple(dict.fromkeys(links))
        return Decision(
            True, tuple(reasons), unique_links, tuple(creates_c), tuple(creates_l)
        )
