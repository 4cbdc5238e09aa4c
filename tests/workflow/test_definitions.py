"""Workflow YAML: every problem reported at once, naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.workflows.definitions import WorkflowError, load_dir, parse_duration

GOOD = """on: email.opened
when: [{field: human, eq: true}]
once_per: message_id
do:
  - delay: 2h
  - send_email: {subject: "Suite", template: follow.html}
  - notify_owner: {}
  - create_task: {title: "Rappeler {{ lead.name }}", due_in: 1d}
  - update_lead: {status: qualified}
  - webhook: {url: "env:HOOK", secret: "env:HOOK_SECRET"}
"""


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "follow.html").write_text("<p>{{ lead.name }}</p>")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_good_file_and_the_yaml_on_key(tmp_path: Path) -> None:
    (wf,) = load_dir(write(tmp_path, {"follow.yaml": GOOD}))
    # PyYAML reads a bare `on:` as the boolean true; it is still the trigger.
    assert wf.name == "follow" and wf.on == "email.opened" and wf.once_per == "message_id"
    assert [s.action for s in wf.steps] == ["delay", "send_email", "notify_owner",
                                            "create_task", "update_lead", "webhook"]
    assert wf.steps[0].delay.total_seconds() == 7200


def test_every_problem_is_listed(tmp_path: Path) -> None:
    bad = """name: broken
on: email.openned
do: []
"""
    worse = """on: form.submitted
when: {field: x, like: 1}
do:
  - send_mail: {}
  - delay: soon
  - send_email: {subject: "{{ unclosed"}
  - webhook: {url: "ftp://x", secret: "plain-secret"}
  - update_lead: {status: won}
  - update_lead: {status: disqualified}
  - create_task: {title: t, colour: red}
  - {notify_owner: {}, webhook: {url: "env:X"}}
"""
    dupe = "name: twice\non: lead.created\ndo: [{notify_owner: {}}]\n"
    missing = "on: lead.created\ndo: [{send_email: {subject: s, template: nope.html}}]\n"
    with pytest.raises(WorkflowError) as caught:
        load_dir(write(tmp_path, {"a.yaml": bad, "b.yaml": worse, "c.yaml": dupe, "c2.yaml": dupe,
                                  "d.yaml": missing, "e.yaml": "on: [unclosed\n"}))
    text = "\n".join(caught.value.problems)
    for expected in [
        "a.yaml: on: 'email.openned' is not one of email.opened",
        "a.yaml: do: List should have at least 1 item",
        "b.yaml: when.like: unknown operator",
        "b.yaml: do[0]: unknown action 'send_mail'",
        "b.yaml: do[1].delay: 'soon' is not a duration",
        "b.yaml: do[2].send_email.subject: template error at line 1",
        "b.yaml: do[3].webhook.url: expected an http(s) URL",
        "b.yaml: do[3].webhook.secret: secrets must be references",
        "b.yaml: do[4].update_lead.status: Input should be 'open', 'qualified' or 'disqualified'",
        "b.yaml: do[5].update_lead: disqualified needs a reason",
        "b.yaml: do[6].create_task.colour: unknown key",
        "b.yaml: do[7]: expected one action",
        "d.yaml: do[0].send_email.template: nope.html not found",
        "e.yaml: not valid YAML at line 2",
    ]:
        assert expected in text, expected
    assert "c2.yaml: name 'twice' is also used by c.yaml" in text


def test_missing_directory_is_no_workflows(tmp_path: Path) -> None:
    assert load_dir(tmp_path / "absent") == []
    assert load_dir(None) == []


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200),
                                               ("3d", 259200), ("1w", 604800), (45, 45),
                                               ("1.5h", 5400)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "2 days", "-1h", "400d", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_shipped_examples_are_valid() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert {w.name for w in load_dir(repo / "config" / "workflows")} == {
        "follow-up-after-open", "new-form-lead", "pricing-click"}
