"""The idempotency request digest keeps the text it has always hashed, so a key claimed before
a change still replays (a different digest would answer IDEMPOTENCY_KEY_REUSED)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from qianbao.platform.idempotency import request_hash

plain = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))


@given(st.dictionaries(st.text(max_size=12), plain, max_size=12))
def test_request_hash_is_the_sha256_of_the_sorted_items_repr(request):
    expected = hashlib.sha256(repr(sorted(request.items())).encode()).hexdigest()
    assert request_hash(request) == expected


def test_a_known_digest_never_changes():
    body = {"merchant_id": "m1", "amount_fen": 100, "memo": "", "card_id": None, "x": True}
    assert (
        request_hash(body)
        == hashlib.sha256(
            b"[('amount_fen', 100), ('card_id', None), ('memo', ''), ('merchant_id', 'm1'),"
            b" ('x', True)]"
        ).hexdigest()
    )
