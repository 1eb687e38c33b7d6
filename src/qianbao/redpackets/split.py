"""How a group red packet is split (pure). See docs/decisions/0712-red-packet-split.md.

Random packets use the sorted-cut method: draw ``n - 1`` distinct cut points uniformly from the
``total - 1`` gaps between the fen of the total, sort them, and take the lengths between
consecutive cuts. Every share is then at least 1 fen, the shares sum exactly to the total, and
the shares are exchangeable (every ordering of the same amounts is equally likely), so each
position - the first claimer's, the last's - has the same expectation, exactly ``total / n``.
"""

from __future__ import annotations

import random

from qianbao.platform.money import split_fen

MIN_SHARE_FEN = 1  # 0.01 CNY


def split_random(total_fen: int, shares: int, rng: random.Random) -> list[int]:
    """``shares`` amounts of at least 1 fen summing to ``total_fen``, exchangeable."""
    if shares < 1 or total_fen < shares * MIN_SHARE_FEN:
        raise ValueError(f"cannot split {total_fen} fen into {shares} shares of at least 1 fen")
    cuts = sorted(rng.sample(range(1, total_fen), shares - 1))
    bounds = [0, *cuts, total_fen]
    amounts = [bounds[i + 1] - bounds[i] for i in range(shares)]
    assert sum(amounts) == total_fen and min(amounts) >= MIN_SHARE_FEN
    return amounts


def split_fixed(each_fen: int, shares: int) -> list[int]:
    """A fixed packet: every share the same amount (the total is ``each_fen * shares``)."""
    if shares < 1 or each_fen < MIN_SHARE_FEN:
        raise ValueError("a fixed packet needs at least one share of at least 1 fen")
    return split_fen(each_fen * shares, shares)
