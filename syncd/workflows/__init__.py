"""Workflows: YAML definitions reacting to outbox events with durable, recorded steps.

Modules: ``definitions`` (YAML -> validated Workflow), ``conditions`` (declarative `when`),
``templates`` (sandboxed Jinja2), ``context`` (what a workflow sees), ``outbox`` (events ->
runs), ``actions``, ``engine`` (leases, steps, retries, dead letters), ``worker``
(`WorkflowWorker.run_once`), ``metrics``.

Event payloads (the `events` table; every field is visible to `when`, templates and webhooks):

- ``activity.captured`` (capture): activity_id, interaction_id, natural_key, kind,
  links ([[target_type, id], ...]; the first lead/contact link becomes ``lead``/``contact``)
- ``lead.created`` (capture, CSV import, lifecycle, forms): lead_id, email, source
- ``lead.qualified`` (lifecycle): lead_id, email, account_id, contact_id, opportunity_id,
  created {account, contact}, activities_moved; from the update_lead action: lead_id, source
- ``lead.disqualified`` (lifecycle): lead_id, email, reason
- ``opportunity.stage_changed`` (lifecycle): opportunity_id, from_stage (null when created),
  to_stage, status (open | won | lost), account_id, contact_id, lead_id
- ``email.opened`` (tracking): message_id, hit_id, mailbox, recipient, subject, lead_id,
  contact_id, human (bool), machine_reason, ip_class, user_agent, first_human_open (bool),
  opened_at
- ``link.clicked`` (tracking): the same plus url, first_human_click
- ``form.submitted`` (forms): form, submission_id, email, lead_id, contact_id, lead_created
  (bool), fields ({name: value} of the form's fields)
- ``reply.received`` (derived by the dispatcher from ``activity.captured`` when an inbound
  email's In-Reply-To is a tracked mail): interaction_id, activity_id, message_id (tracked),
  mailbox, recipient, subject, lead_id, contact_id, links

Integer ids (lead_id, contact_id) are resolved to ``lead``, ``contact`` and ``owner``
(see ``context``).
"""
