"""Red packets' limits (``[extra.redpackets]`` in the settings; defaults here)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from qianbao.platform.errors import InvalidArgument


@dataclass(frozen=True)
class RedPacketConfig:
    packet_max_fen: int = 2_000_000  # 20,000 CNY a packet
    share_max_fen: int = 2_000_000  # no single share above this (a fixed packet's each)
    day_max_fen: int = 5_000_000  # 50,000 CNY sent a sender a day
    shares_max: int = 200
    group_members_max: int = 500
    message_max_chars: int = 40
    expires_after_s: int = 24 * 3600  # then what is unclaimed goes back to the sender
    refund_batch_max: int = 500


def load(raw: dict[str, Any] | None) -> RedPacketConfig:
    cfg = RedPacketConfig()
    if not raw:
        return cfg
    unknown = set(raw) - {f.name for f in fields(RedPacketConfig)}
    if unknown:
        raise InvalidArgument(f"unknown redpackets settings {sorted(unknown)}")
    cfg = replace(cfg, **raw)
    if any(type(v) is not int or v <= 0 for v in vars(cfg).values()):
        raise InvalidArgument("redpackets settings must be positive whole numbers")
    return cfg
