"""A balance adjustment is a command as data: it travels as JSON unchanged, and the decoded
command books once; repeated with its request id it answers the first result and moves nothing."""

from __future__ import annotations

import json

from qianbao.backoffice.adjustments import Adjust
from qianbao.payments import service as payments
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.factories import new_user


def test_a_decoded_adjustment_books_once(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    user = new_user(p, balance_fen=10_00)
    command = Adjust(new_id(bucket_of(user)), "op-1", user, 2_50, "善意补偿 goodwill", "adj-1")
    wire = json.dumps(p.commands.encode(command))
    decoded = p.commands.decode(json.loads(wire))
    assert decoded == command
    first = p.commands.submit(p.unit_of(user), decoded)
    assert first["amount_fen"] == 2_50
    again = Adjust(new_id(bucket_of(user)), "op-1", user, 2_50, "善意补偿 goodwill", "adj-1")
    assert p.commands.submit(p.unit_of(user), again)["adjustment_id"] == first["adjustment_id"]
    assert payments.balance(p, user)["balance_fen"] == 12_50
    assert_ledger_clean(p)
