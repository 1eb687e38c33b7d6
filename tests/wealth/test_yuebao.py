"""Yu'e Bao (余额宝) worked examples, to the fen.

A share is 1 fen (NAV 1.00); a holder's daily income is shares × 万份收益 ÷ 10,000 rounded down
to the fen; the fund's income on the unit's omnibus account less the holders' rounded incomes
stays on ``fund_retained``. The worked week is Mon 15 – Tue 23 June 2026, with the weekend and
the Dragon Boat Festival holiday on Friday 19 June.
"""

from __future__ import annotations

from datetime import date as D

import pytest

from qianbao.channels import reconcile as bank_recon
from qianbao.ledger.service import balance_in
from qianbao.platform.errors import IdempotencyKeyReused, InsufficientBalance, QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.wealth import fundco, jobs, state
from qianbao.wealth import service as yeb
from qianbao.wealth.dayend import income, income_run
from qianbao.wealth.dayend import store as dayend_store
from qianbao.wealth.errors import Code, DayOutOfOrder, FastLimitExceeded
from qianbao.wealth.reconcile import reconcile
from tests.conftest import assert_ledger_clean
from tests.factories import card_of, new_user
from tests.wealth.helpers import at, end, publish, start

MON, TUE, WED, THU, FRI, SAT, SUN = (D(2026, 6, d) for d in range(15, 22))
MON2, TUE2 = D(2026, 6, 22), D(2026, 6, 23)
RATES = {
    MON: "0.4800",
    TUE: "0.4900",
    WED: "0.5012",
    THU: "0.4750",
    FRI: "0.4760",
    SAT: "0.4760",
    SUN: "0.4755",
    MON2: "0.4700",
    TUE2: "0.4710",
}


def days(first: D, last: D) -> list[D]:
    return [D.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]


def wallet(p: Platform, user_id: str) -> int:
    with p.db_for(user_id).read() as tx:
        return balance_in(tx, f"user_balance:{user_id}")


def test_calendar_cut_and_confirmation_dates(yp: Platform) -> None:
    cfg = state.of(yp).config
    at(MON, 14, 59)
    first = new_user(yp, balance_fen=10_000)
    assert yeb.subscribe(yp, first, 100, "before-cut")["trade_date"] == MON.isoformat()
    at(MON, 15, 0)
    row = yeb.subscribe(yp, first, 100, "at-cut")
    assert (row["trade_date"], row["confirm_date"]) == (TUE.isoformat(), WED.isoformat())
    at(THU, 16)
    row = yeb.subscribe(yp, first, 100, "thursday-late")  # Fri holiday, then the weekend
    assert (row["trade_date"], row["confirm_date"]) == (MON2.isoformat(), TUE2.isoformat())
    at(SAT, 10)
    assert yeb.subscribe(yp, first, 100, "saturday")["trade_date"] == MON2.isoformat()
    assert not cfg.is_trading_day(FRI) and cfg.next_trading_day(THU) == MON2


def test_worked_week_with_a_weekend_and_a_holiday(yp: Platform) -> None:
    p = yp
    publish(p, RATES)
    at(MON, 9)
    a = new_user(p, unit=0, balance_fen=2_000_000)
    b = new_user(p, unit=0, balance_fen=1_000_000)
    at(MON, 10)
    first = yeb.subscribe(p, a, 1_000_000, "a-1")
    assert yeb.subscribe(p, a, 1_000_000, "a-1")["id"] == first["id"]  # a replay
    with pytest.raises(IdempotencyKeyReused):
        yeb.subscribe(p, a, 999_999, "a-1")
    yeb.subscribe(p, b, 333_333, "b-1")
    assert wallet(p, a) == 1_000_000 and yeb.holdings(p, a)["pending_fen"] == 1_000_000
    incomes: dict[D, tuple[int, int, int]] = {}
    for day in days(MON, TUE2):
        start(p, day)
        if day == THU:
            at(THU, 16)  # after the cut: trades Mon 22, confirmed Tue 23
            yeb.subscribe(p, a, 500_000, "a-2")
        out = end(p, day)
        unit0 = out["income"][0]  # type: ignore[index]
        incomes[day] = (
            yeb.income_history(p, a, 1)[0]["income_fen"] if day > MON else 0,
            yeb.income_history(p, b, 1)[0]["income_fen"] if day > MON else 0,
            unit0["retained_fen"],
        )
        assert out["reconciliation"] == ["BALANCED", "BALANCED"], reconcile(p, day)
    # (A's income, B's income, the unit's retained remainder) per day, worked by hand:
    # Tue A 1,000,000 × 0.4900 ÷ 10,000 = 49; B 333,333 × 0.49 ÷ 10,000 = 16.33 -> 16;
    # the fund pays on 1,333,333: 65.33 -> 65, so nothing is left over.
    # Thu A 1,000,099 × 0.4750 ÷ 10,000 = 47.50 -> 47; B 333,365 -> 15.83 -> 15;
    # the fund on 1,333,464 -> 63.34 -> 63: 1 fen retained.
    # Tue 23: A's 500,000 confirmed that morning: 1,500,334 × 0.4710 ÷ 10,000 = 70.67 -> 70.
    assert incomes == {
        MON: (0, 0, 0),
        TUE: (49, 16, 0),
        WED: (50, 16, 0),
        THU: (47, 15, 1),
        FRI: (47, 15, 1),
        SAT: (47, 15, 1),
        SUN: (47, 15, 1),
        MON2: (47, 15, 0),
        TUE2: (70, 15, 1),
    }
    held = yeb.holdings(p, a)
    assert held["shares_fen"] == 1_500_000 + 404 and held["total_income_fen"] == 404
    assert held["pending_fen"] == 0
    # 七日年化 through Sunday: (0.48+0.49+0.5012+0.475+0.476+0.476+0.4755)/7/10,000×365
    assert yeb.seven_day_yield(p, SUN)["percent"] == "1.759"
    assert yeb.seven_day_yield(p, SAT)["percent"] is None  # only 6 days published
    custody = state.of(p).fund.shares_fen(state.fund_account_no(0))
    with p.units[0].read() as tx:
        assert balance_in(tx, state.custody(0)) == custody == 1_500_404 + 333_455 + 5
        assert balance_in(tx, state.retained(0)) == 5
        assert balance_in(tx, state.clearing(0)) == 0  # each day's net paid through the bank
    for day in (TUE, TUE2):  # the fund's cash went through SIMBANK, and the bank agrees
        assert bank_recon.reconcile(p, "SIMBANK", day).status == "BALANCED"
    assert_ledger_clean(p)


def test_income_is_idempotent_ordered_and_snapshots_the_day_end(yp: Platform) -> None:
    p = yp
    publish(p, RATES)
    at(MON, 10)
    a = new_user(p, balance_fen=2_000_000)
    yeb.subscribe(p, a, 1_000_000, "s")
    end(p, MON)
    start(p, TUE)
    # just after midnight, before Tuesday's income runs, A spends 400,000 of the shares:
    at(WED, 0, 5)
    yeb.redeem(p, a, 400_000, "r")
    first = end(p, TUE)
    again = end(p, TUE)  # a restart repeats the day: nothing changes
    assert first["income"] == again["income"]
    assert yeb.income_history(p, a) == [
        {"day": TUE.isoformat(), "income_fen": 49, "shares_after_fen": 600_049}
    ]
    with pytest.raises(DayOutOfOrder):
        p.writers[p.unit_of(a)].submit(lambda ctx: income_run(ctx, D(2026, 6, 14), 4800, 0))
    end(p, WED)
    assert yeb.income_history(p, a, 1)[0]["income_fen"] == 600_049 * 5012 // 100_000_000
    assert_ledger_clean(p)


def test_fast_redemption_limit_and_normal_redemption(yp: Platform) -> None:
    p = yp
    publish(p, RATES)
    at(MON, 10)
    a = new_user(p, balance_fen=2_000_000)
    yeb.subscribe(p, a, 1_800_000, "s")
    end(p, MON)
    start(p, TUE)
    at(TUE, 11)
    assert yeb.redeem(p, a, 600_000, "f1")["status"] == "ACCEPTED"
    assert wallet(p, a) == 200_000 + 600_000
    with pytest.raises(FastLimitExceeded) as refused:
        yeb.redeem(p, a, 400_001, "f2")
    assert refused.value.code == Code.YUEBAO_FAST_LIMIT_EXCEEDED
    assert wallet(p, a) == 800_000 and yeb.holdings(p, a)["fast_redeem_left_fen"] == 400_000
    yeb.redeem(p, a, 400_000, "f3")  # exactly the 10,000 CNY of the day
    assert yeb.redeem(p, a, 400_000, "f3")["amount_fen"] == 400_000  # a replay, not a third
    assert wallet(p, a) == 1_200_000
    normal = yeb.redeem(p, a, 300_000, "n1", mode="NORMAL")  # no limit, money on T+1
    assert normal["confirm_date"] == WED.isoformat()
    assert yeb.holdings(p, a)["redeeming_fen"] == 300_000 and wallet(p, a) == 1_200_000
    with pytest.raises(InsufficientBalance) as short:
        yeb.redeem(p, a, 600_000, "too-much", mode="NORMAL")
    assert short.value.code == Code.YUEBAO_SHARES_NOT_ENOUGH
    end(p, TUE)
    start(p, WED)
    assert wallet(p, a) == 1_500_000 and yeb.holdings(p, a)["redeeming_fen"] == 0
    at(WED, 9)
    assert yeb.holdings(p, a)["fast_redeem_left_fen"] == 1_000_000  # a new day
    end(p, WED)
    report = reconcile(p, WED)[p.unit_of(a)]
    assert report["status"] == "BALANCED" and report["fund_net_cash_fen"] == -1_300_000
    assert_ledger_clean(p)


def test_subscribe_from_a_bound_card(yp: Platform) -> None:
    p = yp
    at(MON, 10)
    a = new_user(p)
    card = card_of(p, a)
    bank = p.channels["SIMBANK"]
    reserve = bank.balance_fen()
    row = yeb.subscribe(p, a, 250_000, "c1", source="CARD", card_id=card)
    assert row["mode"] == "CARD" and yeb.holdings(p, a)["pending_fen"] == 250_000
    assert yeb.subscribe(p, a, 250_000, "c1", source="CARD", card_id=card)["id"] == row["id"]
    assert bank.balance_fen() == reserve + 250_000  # charged once
    with pytest.raises(IdempotencyKeyReused):
        yeb.subscribe(p, a, 100, "c1", source="CARD", card_id=card)
    assert bank.balance_fen() == reserve + 250_000  # the refused charge went back
    end(p, MON)
    start(p, TUE)
    assert yeb.holdings(p, a)["shares_fen"] == 250_000
    assert_ledger_clean(p)


BAD_SUBSCRIPTIONS = [
    (0, {}, "YUEBAO_AMOUNT_INVALID"),
    (-5, {}, "YUEBAO_AMOUNT_INVALID"),
    (True, {}, "YUEBAO_AMOUNT_INVALID"),
    (10**15, {}, "YUEBAO_AMOUNT_INVALID"),
    (100, {"source": "GOLD"}, "YUEBAO_SOURCE_INVALID"),
    (100, {"source": "CARD"}, "YUEBAO_SOURCE_INVALID"),
    (100, {"source": "CARD", "card_id": "nope"}, "CARD_NOT_FOUND"),
    (10_000_000, {}, "BALANCE_NOT_ENOUGH"),
]


def test_bad_input_is_refused_with_a_4xx_and_moves_nothing(sqlite_yp: Platform) -> None:
    p = sqlite_yp
    at(MON, 10)
    a = new_user(p, balance_fen=5_000)
    for amount, kw, code in BAD_SUBSCRIPTIONS:
        with pytest.raises(QianbaoError) as bad:
            yeb.subscribe(p, a, amount, "bad", **kw)  # type: ignore[arg-type]
        assert bad.value.code == code and 400 <= bad.value.http_status < 500, (amount, kw)
    for amount, mode, code in [
        (100, "SLOW", "YUEBAO_MODE_INVALID"),
        (0, "FAST", "YUEBAO_AMOUNT_INVALID"),
        (100, "FAST", "YUEBAO_SHARES_NOT_ENOUGH"),  # no shares at all
    ]:
        with pytest.raises(QianbaoError) as bad:
            yeb.redeem(p, a, amount, f"bad-{mode}-{amount}", mode=mode)
        assert bad.value.code == code and 400 <= bad.value.http_status < 500
    with pytest.raises(QianbaoError) as bad_key:
        yeb.subscribe(p, a, 100, "x" * 65)
    assert bad_key.value.http_status == 400
    assert wallet(p, a) == 5_000 and yeb.orders(p, a) == []
    assert_ledger_clean(p)


def test_reconciliation_finds_what_the_fund_did_that_we_did_not(yp: Platform) -> None:
    p = yp
    publish(p, RATES)
    at(MON, 10)
    a = new_user(p, balance_fen=100_000)
    yeb.subscribe(p, a, 60_000, "s")
    end(p, MON)
    start(p, TUE)
    start(p, TUE)  # a restart of the morning: the confirmations are applied once
    assert yeb.holdings(p, a)["shares_fen"] == 60_000
    unit = p.unit_of(a)
    fund = state.of(p).fund
    # the fund books a subscription nobody sent (a line of someone else's file, say)
    rogue = fundco.OrderLine(
        "ROGUE-1", state.fund_account_no(unit), "SUBSCRIBE", 500, "2026-06-16", "2026-06-17"
    )
    fund.receive([rogue])
    end(p, TUE)
    start(p, WED)
    end(p, WED)
    report = reconcile(p, WED)[unit]
    assert report["status"] == "DIFFERENCES"
    assert [(d["order_id"], d["problem"]) for d in report["differences"]] == [
        ("ROGUE-1", "FUND_ONLY")
    ]
    assert report["fund_net_cash_fen"] - report["booked_net_cash_fen"] == 500
    assert report["fund_closing_shares_fen"] != report["custody_after_income_fen"]
    assert reconcile(p, WED)[1 - unit]["status"] == "BALANCED"
    assert_ledger_clean(p)  # the books themselves still balance: the difference is the fund's


def test_an_income_run_that_crashes_leaves_nothing_and_runs_again(
    yp: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = yp
    publish(p, RATES)
    at(MON, 10)
    a = new_user(p, balance_fen=1_000_000)
    yeb.subscribe(p, a, 1_000_000, "s")
    end(p, MON)
    start(p, TUE)
    at(WED, 0, 10)
    real = dayend_store.save_step

    def crash(tx: object, day: str, step: str, *args: object) -> None:
        if step == "INCOME":
            raise RuntimeError("the process died before the run was recorded")
        real(tx, day, step, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(dayend_store, "save_step", crash)
    with pytest.raises(RuntimeError):
        income(p, TUE)
    assert yeb.income_history(p, a) == []  # the postings went with the transaction
    monkeypatch.setattr(dayend_store, "save_step", real)
    income(p, TUE)
    assert yeb.income_history(p, a)[0]["income_fen"] == 49
    assert_ledger_clean(p)


def test_the_day_jobs_catch_up_days_missed_while_the_server_was_down(yp: Platform) -> None:
    p = yp
    publish(p, RATES)
    at(MON, 10)
    a = new_user(p, balance_fen=1_000_000)
    yeb.subscribe(p, a, 1_000_000, "s")
    at(THU, 0, 20)  # the server comes back on Thursday morning
    jobs.catch_up(p, THU)
    days_paid = [(i["day"], i["income_fen"]) for i in yeb.income_history(p, a)]
    assert days_paid == [(WED.isoformat(), 50), (TUE.isoformat(), 49)]
    jobs.catch_up(p, THU)  # again: nothing changes
    assert yeb.holdings(p, a)["total_income_fen"] == 99
    assert all(r["status"] == "BALANCED" for r in reconcile(p, WED))
    assert_ledger_clean(p)
