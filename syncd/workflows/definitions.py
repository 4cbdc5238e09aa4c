"""Workflow definitions: YAML files beside the configuration, validated up front.

A file holds one workflow (or a list of them under ``workflows:``)::

    name: follow-up-after-open          # default: the file name
    on: email.opened                    # one of EVENT_TYPES
    when:                               # optional, see workflows.conditions
      - {field: human, eq: true}
      - {field: first_human_open, eq: true}
    once_per: lead.id                   # optional: at most one run per value
    do:
      - delay: 2h                       # durable: survives restarts
      - send_email: {subject: "Suite à notre échange", template: follow-up.html}
      - notify_owner: {}
      - create_task: {title: "Rappeler {{ lead.name }}", due_in: 1d}
      - update_lead: {status: qualified}
      - webhook: {url: "env:CRM_HOOK_URL", secret: "env:CRM_HOOK_SECRET"}

Every problem in every file is reported at once (`WorkflowError.problems`), naming file and key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jinja2 import TemplateSyntaxError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syncd.problems import ProblemsError, pydantic_problems
from syncd.workflows import conditions
from syncd.workflows.templates import check_template

EVENT_TYPES = ("email.opened", "link.clicked", "form.submitted", "activity.captured",
               "lead.created", "lead.qualified", "lead.disqualified", "reply.received",
               "opportunity.stage_changed")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SECRET_PREFIXES = ("env:", "file:")


class WorkflowError(ProblemsError):
    """Unusable workflow definitions; `problems` lists every issue, one line each."""


def parse_duration(value: str | int | float) -> timedelta:
    """``30s``, ``15m``, ``2h``, ``3d``, ``1w`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 2h or 3d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 2h or 3d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0 or seconds > 366 * 86400:
        raise ValueError("a duration must be between 0 and 366 days")
    return timedelta(seconds=seconds)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _template(value: str | None) -> str | None:
    if value is not None:
        check_template(value)
    return value


def _url_or_ref(value: str | None) -> str | None:
    if value is None or value.startswith(SECRET_PREFIXES):
        return value
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected an http(s) URL or a reference env:NAME / file:PATH")
    return value


class SendEmail(_Strict):
    to: str = "{{ recipient }}"
    sender: str | None = Field(default=None, alias="from")
    subject: str
    body: str | None = None
    template: str | None = None  # a file in <workflows dir>/templates/
    track: bool = True

    _tpl = field_validator("to", "sender", "subject", "body")(_template)


class NotifyOwner(_Strict):
    via: Literal["email", "webhook"] = "email"
    url: str | None = None  # webhook (a Teams incoming webhook, say); env:/file: allowed
    to: str | None = None  # email: overrides the owner (a shared sales inbox)
    subject: str = "[syncd] {{ event.type }}: {{ lead.name or lead.email or recipient }}"
    body: str | None = None

    _tpl = field_validator("to", "subject", "body")(_template)
    _url = field_validator("url")(_url_or_ref)


class CreateTask(_Strict):
    title: str
    notes: str = ""
    due_in: str | int | None = None

    _tpl = field_validator("title", "notes")(_template)

    @field_validator("due_in")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value


class UpdateLead(_Strict):
    # qualified / disqualified go through the lead lifecycle (syncd.lifecycle): qualifying
    # makes the account, contact and opportunity, as `syncd lead qualify` does.
    status: Literal["open", "qualified", "disqualified"] | None = None
    reason: str | None = None  # with disqualified: one of [lifecycle] disqualify_reasons
    owner: str | None = None  # email of the new owner
    fields: dict[str, str] = {}

    @model_validator(mode="after")
    def _reason(self) -> UpdateLead:
        if self.status == "disqualified" and not self.reason:
            raise ValueError("disqualified needs a reason (see [lifecycle] disqualify_reasons)")
        return self

    @field_validator("fields")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for item in value.values():
            check_template(item)
        return value


class Webhook(_Strict):
    url: str
    secret: str | None = None  # env:/file: reference; signs the body (X-Syncd-Signature)
    body: dict[str, Any] | None = None  # default: the run's context

    _url = field_validator("url")(_url_or_ref)

    @field_validator("secret")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(SECRET_PREFIXES):
            raise ValueError("secrets must be references: env:NAME or file:PATH")
        return value


ACTIONS: dict[str, type[_Strict]] = {
    "send_email": SendEmail,
    "notify_owner": NotifyOwner,
    "create_task": CreateTask,
    "update_lead": UpdateLead,
    "webhook": Webhook,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of ``do``: an action with its arguments, or a delay."""

    action: str  # a key of ACTIONS, or "delay"
    args: dict[str, Any]

    @property
    def delay(self) -> timedelta:
        return parse_duration(self.args["duration"])

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "args": self.args}

    @classmethod
    def from_json(cls, data: Any) -> Step:
        return cls(str(data["action"]), dict(data.get("args") or {}))

    def spec(self) -> Any:
        """The validated arguments (a pydantic model) of an action step."""
        return ACTIONS[self.action].model_validate(self.args)


class _Raw(_Strict):
    name: str
    on: str
    when: Any = None
    once_per: str | None = None
    enabled: bool = True
    description: str = ""
    do: Annotated[list[Any], Field(min_length=1)]

    @field_validator("on")
    @classmethod
    def _event(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"{value!r} is not one of {', '.join(EVENT_TYPES)}")
        return value


@dataclass(frozen=True)
class Workflow:
    name: str
    on: str
    when: conditions.Node
    once_per: str | None
    steps: tuple[Step, ...]
    enabled: bool = True
    description: str = ""
    source: str = ""


def _steps(raw: list[Any], where: str, problems: list[str]) -> list[Step]:
    steps = []
    for i, item in enumerate(raw):
        place = f"{where}: do[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            problems.append(f"{place}: expected one action, e.g. '- send_email: {{...}}' "
                            f"(actions: {', '.join([*ACTIONS, 'delay'])})")
            continue
        (action, args), = item.items()
        if action == "delay":
            try:
                parse_duration(args)
            except ValueError as exc:
                problems.append(f"{place}.delay: {exc}")
                continue
            steps.append(Step("delay", {"duration": args}))
            continue
        model = ACTIONS.get(str(action))
        if model is None:
            problems.append(f"{place}: unknown action {action!r}; use one of "
                            f"{', '.join([*ACTIONS, 'delay'])}")
            continue
        args = {} if args is None else args
        try:
            model.model_validate(args)
        except ValidationError as exc:
            problems.extend(pydantic_problems(f"{place}.{action}", exc))
            continue
        steps.append(Step(str(action), dict(args)))
    return steps


def parse_workflow(data: Any, where: str, default_name: str) -> tuple[Workflow | None, list[str]]:
    """One workflow from parsed YAML. Returns (workflow or None, problems)."""
    if not isinstance(data, dict):
        return None, [f"{where}: expected a mapping with on/when/do"]
    data = dict(data)
    # YAML 1.1 (PyYAML) reads a bare `on` key as the boolean true.
    if True in data and "on" not in data:
        data["on"] = data.pop(True)
    data.setdefault("name", default_name)
    try:
        raw = _Raw.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(where, exc, ": ")
    problems: list[str] = []
    try:
        when = conditions.parse(raw.when, "when")
    except conditions.ConditionError as exc:
        problems.append(f"{where}: {exc}")
        when = conditions.All(())
    if raw.once_per is not None and not re.match(r"^[A-Za-z_][\w.]*$", raw.once_per):
        problems.append(f"{where}: once_per: {raw.once_per!r} is not a dotted field name")
    steps = _steps(raw.do, where, problems)
    if problems:
        return None, problems
    return Workflow(raw.name, raw.on, when, raw.once_per, tuple(steps), raw.enabled,
                    raw.description, where), []


def load_file(path: Path) -> tuple[list[Workflow], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{path.name}: cannot read: {exc}"]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        return [], [f"{path.name}: not valid YAML{at}: {getattr(exc, 'problem', exc)}"]
    items: list[Any]
    if isinstance(data, dict) and set(data) == {"workflows"} and isinstance(data["workflows"],
                                                                           list):
        items = data["workflows"]
        labels = [f"{path.name}: workflows[{i}]" for i in range(len(items))]
    else:
        items, labels = [data], [path.name]
    out: list[Workflow] = []
    problems: list[str] = []
    for item, label in zip(items, labels, strict=True):
        wf, errs = parse_workflow(item, label, path.stem)
        problems.extend(errs)
        if wf is not None:
            out.append(wf)
    return out, problems


def load_dir(directory: Path | None) -> list[Workflow]:
    """Every ``*.yaml``/``*.yml`` file of ``directory`` (none when it is None or absent).

    Raises: WorkflowError listing every problem, including names used twice and templates
    missing from ``templates/``.
    """
    if directory is None or not directory.is_dir():
        return []
    workflows: list[Workflow] = []
    problems: list[str] = []
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        found, errs = load_file(path)
        workflows.extend(found)
        problems.extend(errs)
    problems.extend(_cross_checks(workflows, directory))
    if problems:
        raise WorkflowError(problems)
    return workflows


def _cross_checks(workflows: Iterable[Workflow], directory: Path) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for wf in workflows:
        if wf.name in seen:
            problems.append(f"{wf.source}: name {wf.name!r} is also used by {seen[wf.name]}")
        seen[wf.name] = wf.source
        for i, step in enumerate(wf.steps):
            name = step.args.get("template") if step.action == "send_email" else None
            if name is None:
                if step.action == "send_email" and not step.args.get("body"):
                    problems.append(f"{wf.source}: do[{i}].send_email: give a body or a template")
                continue
            path = directory / "templates" / str(name)
            if not path.is_file():
                problems.append(f"{wf.source}: do[{i}].send_email.template: {path.name} not found "
                                f"in {directory.name}/templates/")
                continue
            try:
                check_template(path.read_text(encoding="utf-8"))
            except (ValueError, OSError, TemplateSyntaxError) as exc:
                problems.append(f"{wf.source}: templates/{path.name}: {exc}")
    return problems
