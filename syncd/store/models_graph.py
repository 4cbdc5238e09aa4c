"""Schema pieces of the who-knows-whom graph (issue 5) outside the `ties` table itself.

Imported by the code that uses them (and by `syncd.store.models.all_models`
for Alembic), not by every command.
"""

from __future__ import annotations

from sqlalchemy import Index

from syncd.store.models import Interaction

# Capture looks up the replies already stored to a message it has just received (the reply
# may arrive first: several mailboxes, unsorted imports), to add the response latency once.
Index("ix_interactions_in_reply_to", Interaction.__table__.c.in_reply_to)
