"""The COPY's rows go in PostgreSQL's "C" order of their keys: the (tenant_id, event_id) pairs
compared as UTF-8 bytes, the tenant first (events.event_rows._in_key_order)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from events.event_rows import _in_key_order

# What validation lets an identifier hold: no control character, no lone surrogate.
_identifiers = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=6
) | st.sampled_from(["a", "ab", "a b", "é", "z", "\uffff", "\U0001f600"])


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(st.tuples(_identifiers, _identifiers), unique=True, max_size=30))
def test_rows_are_in_the_c_order_of_their_keys(keys):
    rows = [(tenant_id, event_id, pk) for pk, (tenant_id, event_id) in enumerate(keys)]

    _in_key_order(rows)

    c_order = sorted(keys, key=lambda key: (key[0].encode(), key[1].encode()))
    assert [row[:2] for row in rows] == c_order
