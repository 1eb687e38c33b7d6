"""Messages between two unit owners through a real NATS JetStream server: exactly once, a unit
that was down gets its messages, and a broker killed -9 with its data deleted loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from qianbao.bootstrap import open_platform
from qianbao.ledger.service import check_platform
from qianbao.payments import service as payments
from qianbao.platform.broker import NatsServer
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import wait_until
from tests.broker.conftest import UnitOpener
from tests.conftest import fast_settings
from tests.factories import PAY_PASSWORD, new_user


def _outbox(p: Platform, unit: int) -> dict[str, int]:
    """The money's messages by status (risk's word about each transfer to the payee's unit,
    ``risk.inbound``, and its views travel beside them: ADR 0621)."""
    with p.units[unit].read() as tx:
        rows = tx.all(
            "SELECT status, COUNT(*) AS n FROM messages WHERE topic = 'transfer.credit'"
            " GROUP BY status"
        )
    return {str(r["status"]): int(r["n"]) for r in rows}


def _credited(p: Platform, unit: int) -> int:
    """transfer.in vouchers booked in ``unit`` (one per applied message, never two)."""
    with p.units[unit].read() as tx:
        return int(
            tx.scalar("SELECT COUNT(*) AS n FROM inbox WHERE topic = 'transfer.credit'") or 0
        )


def _all_sent(p: Platform, unit: int, count: int) -> bool:
    return _outbox(p, unit).get("SENT", 0) >= count and _outbox(p, unit).get("CONFIRMED", 0) == 0


def _assert_books_clean(p: Platform) -> None:
    result = check_platform(p)
    assert result.ok, result.units
    assert result.in_transit_fen == 0


def _users(a: Platform, b: Platform) -> tuple[str, str]:
    return new_user(a, unit=0, balance_fen=1_000_00), new_user(b, unit=1)


@pytest.mark.parametrize("unit_platform", ["sqlite", "postgres"], indirect=True)
def test_cross_unit_transfers_are_applied_exactly_once(unit_platform: UnitOpener) -> None:
    a, b = unit_platform(0), unit_platform(1)
    payer, payee = _users(a, b)
    first = [payments.transfer(a, payer, payee, 1_00, f"t-{i}", PAY_PASSWORD) for i in range(20)]
    again = [payments.transfer(a, payer, payee, 1_00, f"t-{i}", PAY_PASSWORD) for i in range(20)]
    assert [t["id"] for t in again] == [t["id"] for t in first]  # same key: the first answer
    assert wait_until(lambda: _all_sent(a, 0, 20), timeout_s=20), _outbox(a, 0)
    assert payments.balance(b, payee)["balance_fen"] == 20_00
    assert payments.balance(a, payer)["balance_fen"] == 980_00
    assert _credited(b, 1) == 20
    assert _outbox(a, 0) == {"SENT": 20}
    _assert_books_clean(a)
    # each process wrote only its own unit: a's writer for unit 1 never ran
    assert a.writers[1].batches == 0 and b.writers[0].batches == 0


def test_a_unit_that_was_down_gets_its_messages(unit_platform: UnitOpener) -> None:
    a, b = unit_platform(0), unit_platform(1)
    payer, payee = _users(a, b)
    b.close()  # unit 1's owner is down
    for i in range(10):
        payments.transfer(a, payer, payee, 2_00, f"down-{i}", PAY_PASSWORD)
    assert wait_until(lambda: a.relay.delivery.published >= 10, timeout_s=10)  # type: ignore[attr-defined]
    assert payments.balance(a, payee)["balance_fen"] == 0  # waiting in the broker
    assert _outbox(a, 0) == {"CONFIRMED": 10}  # pending until unit 1's inbox has applied them
    assert check_platform(a).in_transit_fen == 20_00
    backlog = {"unit": "1"}  # the broker's lag for the absent unit, watched from unit 0
    assert wait_until(
        lambda: (REGISTRY.get_sample_value("qianbao_broker_backlog_messages", backlog) or 0) >= 10,
        timeout_s=5,
    )
    b2 = unit_platform(1)  # back
    assert wait_until(lambda: _all_sent(a, 0, 10), timeout_s=20), _outbox(a, 0)
    assert payments.balance(b2, payee)["balance_fen"] == 20_00
    assert _credited(b2, 1) == 10
    _assert_books_clean(a)


def test_broker_killed_and_emptied_mid_run_loses_nothing(
    unit_platform: UnitOpener, nats_server: NatsServer
) -> None:
    a, b = unit_platform(0), unit_platform(1)
    payer, payee = _users(a, b)
    accepted: list[str] = []
    errors: list[BaseException] = []

    def pay(first: int, count: int) -> None:
        for i in range(first, first + count):
            try:
                payments.transfer(a, payer, payee, 1_00, f"k-{i}", PAY_PASSWORD)
                accepted.append(f"k-{i}")
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

    pay(0, 10)
    assert wait_until(lambda: _all_sent(a, 0, 10), timeout_s=20)
    b.close()  # unit 1 is down: what follows is held by the broker only (and the outbox)
    pay(10, 20)
    delivery = a.relay.delivery
    assert wait_until(lambda: delivery.published >= 30, timeout_s=10)  # type: ignore[attr-defined]
    worker = threading.Thread(target=pay, args=(30, 40))  # payments go on throughout
    worker.start()
    assert wait_until(lambda: len(accepted) >= 40, timeout_s=20)
    nats_server.kill()  # kill -9 ...
    shutil.rmtree(nats_server.store_dir)  # ... and every message it held is gone
    assert wait_until(lambda: len(accepted) >= 55, timeout_s=20)  # units keep taking money
    nats_server.start()
    b = unit_platform(1)
    worker.join(timeout=60)
    pay(70, 10)
    assert errors == []
    assert len(accepted) == 80
    assert wait_until(lambda: _all_sent(a, 0, 80), timeout_s=40), _outbox(a, 0)
    assert _credited(b, 1) == 80  # nothing lost, nothing doubled
    assert payments.balance(b, payee)["balance_fen"] == 80_00
    assert payments.balance(a, payer)["balance_fen"] == 920_00
    assert delivery.published > 80  # type: ignore[attr-defined]  # the lost ones went again
    _assert_books_clean(a)


def test_prepared_messages_are_checked_back_then_sent_through_the_broker(
    unit_platform: UnitOpener,
) -> None:
    """A crash between commit and confirm leaves PREPARED rows: the owner's check-back confirms
    the committed one (then it goes through the broker) and cancels the orphan."""
    a, b = unit_platform(0), unit_platform(1)
    payer, payee = _users(a, b)
    a.relay.stop()  # the relay and its broker client, as if the process had died
    payments.transfer(a, payer, payee, 7_00, "cb", PAY_PASSWORD)
    with a.units[0].transaction() as tx:
        tx.execute("UPDATE messages SET status = 'PREPARED'")
        tx.execute(
            "INSERT INTO messages (id, dest_unit, topic, payload, status, attempts, created_at_ms,"
            " updated_at_ms) VALUES ('orphan00000000000000', 1, 'transfer.credit',"
            ' \'{"transfer_id": "nope", "to_user_id": "x", "amount_fen": 5,'
            " \"source_unit\": 0}', 'PREPARED', 0, :now, :now)",
            {"now": clock.now_ms()},
        )
    clock.set(clock.now())  # the business clock stands still until we move it
    a.relay.start()  # restarted
    try:
        assert wait_until(lambda: a.relay.delivery.problem() is None, timeout_s=10)
        time.sleep(0.5)  # several relay passes: a PREPARED row is never published
        assert a.relay.delivery.published == 0  # type: ignore[attr-defined]
        assert payments.balance(b, payee)["balance_fen"] == 0
        clock.advance(timedelta(seconds=a.settings.message_checkback_after_s + 1))
        assert wait_until(lambda: _outbox(a, 0) == {"SENT": 1, "CANCELLED": 1}, timeout_s=20)
        assert payments.balance(b, payee)["balance_fen"] == 7_00
        _assert_books_clean(a)
    finally:
        clock.use_real_time()


def _unit_process(data_dir: Path, unit: int, url: str) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.broker.unit_process", str(data_dir), str(unit), url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_a_unit_process_killed_mid_run_applies_everything_once(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """Unit 1 in its own OS process, killed -9 while transfers flow to it, then restarted."""
    data = tmp_path / "data"
    both = open_platform(fast_settings(data))
    payer, payee = new_user(both, unit=0, balance_fen=1_000_00), new_user(both, unit=1)
    both.close()
    a = open_platform(
        fast_settings(
            data,
            owned_units=(0,),
            relay_transport="nats",
            nats_url=nats_server.url,
            broker_republish_after_s=1.0,
        )
    )
    child = _unit_process(data, 1, nats_server.url)
    try:
        accepted: list[str] = []

        def pay() -> None:
            for i in range(60):
                accepted.append(
                    payments.transfer(a, payer, payee, 1_00, f"p-{i}", PAY_PASSWORD)["id"]
                )

        worker = threading.Thread(target=pay)
        worker.start()
        assert wait_until(lambda: _credited(a, 1) >= 10, timeout_s=20)  # unit 1 is applying
        child.kill()  # kill -9, in the middle of its consumer's work
        child.wait(timeout=10)
        worker.join(timeout=60)
        assert len(accepted) == 60  # unit 0 took every payment while unit 1 was gone
        child = _unit_process(data, 1, nats_server.url)
        assert wait_until(lambda: _all_sent(a, 0, 60), timeout_s=40), _outbox(a, 0)
        assert _credited(a, 1) == 60
        assert payments.balance(a, payee)["balance_fen"] == 60_00
        _assert_books_clean(a)
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)
        a.close()


def test_broker_status_cli_lists_the_units_backlog(
    unit_platform: UnitOpener, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from qianbao.cli import app

    a, b = unit_platform(0), unit_platform(1)
    payer, payee = _users(a, b)
    b.close()
    payments.transfer(a, payer, payee, 1_00, "st-1", PAY_PASSWORD)
    assert wait_until(lambda: a.relay.delivery.published >= 1, timeout_s=10)  # type: ignore[attr-defined]
    monkeypatch.setenv("QIANBAO_NATS_URL", nats_server.url)
    out = CliRunner().invoke(app, ["broker", "status", "--json"])
    assert out.exit_code == 0, out.output
    state = json.loads(out.output)
    assert state["reachable"] and state["exists"] and state["storage"] == "file"
    assert {c["name"]: c["pending"] for c in state["consumers"]}["unit-1"] == 1
    nats_server.stop()
    down = CliRunner().invoke(app, ["broker", "status", "--json"])
    assert down.exit_code == 1, down.output
    assert json.loads(down.output.strip().splitlines()[-1])["reachable"] is False
