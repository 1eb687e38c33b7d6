"""``qianbao redpacket``: red packets from the terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.redpackets import claims
from qianbao.redpackets import service as redpackets
from qianbao.terminal import console, parse_yuan, run, show

app = typer.Typer(help="Red packets (红包): groups, send, claim, refunds.", no_args_is_help=True)


@app.command("group")
def group(owner_id: str, name: str, member_ids: list[str]) -> None:
    """Create a group of users (the owner is a member)."""
    show("group", run(lambda p: redpackets.create_group(p, owner_id, name, member_ids)))


@app.command("send")
def send(
    sender_id: str,
    amount: Annotated[str, typer.Argument(help="yuan: the total, or each share's for FIXED")],
    request_id: Annotated[str, typer.Option(help="idempotency key")],
    to: Annotated[str | None, typer.Option(help="recipient (a personal packet)")] = None,
    group_id: Annotated[str | None, typer.Option("--group")] = None,
    shares: Annotated[int, typer.Option()] = 1,
    fixed: Annotated[bool, typer.Option(help="equal shares of AMOUNT each")] = False,
    message: Annotated[str, typer.Option()] = "",
    pay_password: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Send a personal (--to) or group (--group) red packet."""
    kind = "PERSONAL" if to else "FIXED" if fixed else "RANDOM"
    amount_fen = parse_yuan(amount)

    def fn(p: Platform) -> dict[str, Any]:
        return redpackets.send(
            p,
            sender_id,
            kind=kind,
            amount_fen=amount_fen,
            shares=shares,
            recipient_id=to,
            group_id=group_id,
            message=message,
            request_id=request_id,
            pay_password=pay_password,
        )

    show("red packet", run(fn))


@app.command("claim")
def claim(packet_id: str, user_id: str) -> None:
    """Claim a share of a red packet for a user."""
    show("claim", run(lambda p: claims.claim(p, packet_id, user_id)))


@app.command("show")
def show_packet(packet_id: str, viewer_id: str) -> None:
    """A red packet and who claimed what."""
    packet = run(lambda p: claims.get_packet(p, packet_id, viewer_id))
    table = Table("seq", "claimer", "amount", title=f"{packet['kind']} {packet['status']}")
    for c in packet["claims"]:
        table.add_row(str(c["seq"]), c["claimer_id"], fen_to_yuan(c["amount_fen"]))
    console.print(table)
    shown = {k: v for k, v in packet.items() if k != "claims"}
    show("red packet", shown)


@app.command("refund-expired")
def refund_expired() -> None:
    """Return what is unclaimed of every packet older than 24 hours (once per packet)."""
    show("refunds", run(claims.refund_expired))
