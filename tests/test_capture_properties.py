"""Property tests of dedup and cursor logic: whatever order pages arrive in, however often they
are re-read, and wherever a page fails, the store equals a model computed from the set of
distinct items delivered."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.base import Interaction, Kind, Page, Participant, Role
from syncd.app import App
from syncd.config import Settings
from syncd.runner import get_or_create_stream
from syncd.store import models as m
from syncd.store.db import session_scope

PEOPLE = ["alice@contoso.fr", "bob@contoso.fr", "jeanne@fabrikam.com", "paul@fabrikam.com",
          "zoe@northwind.fr"]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def make_item(i: int, sender: int, recipients: frozenset[int], stream: str) -> Interaction:
    parts = [Participant(PEOPLE[sender], Role.FROM)]
    parts += [Participant(PEOPLE[r], Role.TO) for r in sorted(recipients) if r != sender]
    return Interaction(natural_key=f"msg{i}@test", kind=Kind.EMAIL,
                       provider_id=f"{stream}-{i}", occurred_at=T0 + timedelta(hours=i),
                       participants=tuple(parts), folder=stream)


messages = st.dictionaries(
    st.integers(0, 30),
    st.tuples(st.integers(0, 4), st.frozensets(st.integers(0, 4), min_size=1, max_size=3)),
    min_size=1, max_size=12,
)
deliveries = st.lists(
    st.tuples(st.sampled_from(["a/inbox", "b/inbox", "a/sent"]),
              st.lists(st.integers(0, 30), max_size=6), st.booleans()),
    min_size=1, max_size=10,
)


@settings(max_examples=40, deadline=None)
@given(messages, deliveries)
def test_store_is_a_function_of_the_distinct_items_delivered(
    msgs: dict[int, tuple[int, frozenset[int]]],
    plan: list[tuple[str, list[int], bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = App(Settings(database_url=f"sqlite:///{Path(tmp) / 'p.db'}",
                           internal_domains=("contoso.fr",)))
        committed: set[tuple[str, int]] = set()
        cursors: dict[str, str | None] = {}
        try:
            for n, (stream, ids, fail) in enumerate(plan):
                items = [make_item(i, *msgs[i], stream) for i in ids if i in msgs]
                if fail and items:
                    # A page that fails mid-write: the naive time of its last item is refused.
                    bad = items[-1]
                    items[-1] = Interaction(**{**{f: getattr(bad, f) for f in
                                                  bad.__dataclass_fields__},
                                               "occurred_at": T0.replace(tzinfo=None)})
                try:
                    with session_scope(app.sessions) as s:
                        row = get_or_create_stream(s, "prop", stream, None)
                        app.capturer.capture_page(s, row, Page(items, f"c{n}", True))
                except ValueError:
                    continue
                cursors[stream] = f"c{n}"
                committed.update((stream, i) for i in ids if i in msgs)
            with session_scope(app.sessions) as s:
                keys = set(s.scalars(select(m.Interaction.natural_key)))
                sightings = set(s.execute(select(m.Stream.key, m.Sighting.provider_id).join(
                    m.Stream, m.Stream.id == m.Sighting.stream_id)).all())
                stored_cursors = dict(s.execute(select(m.Stream.key, m.Stream.cursor)).all())
                sent = s.scalar(select(func.sum(m.Tie.a_to_b + m.Tie.b_to_a))) or 0
        finally:
            app.close()
    assert keys == {f"msg{i}@test" for _, i in committed}
    assert sightings == {(stream, f"{stream}-{i}") for stream, i in committed}
    assert {k: v for k, v in stored_cursors.items() if v} == cursors
    distinct = {i for _, i in committed}
    expected_pairs = sum(len(msgs[i][1] - {msgs[i][0]}) for i in distinct)
    assert sent == expected_pairs  # each distinct message counted once, whichever copies
