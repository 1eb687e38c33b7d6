"""The pure credit model, with no platform and no database: the statement draft, the repayment
allocation, aging and provisions, and refunds off a plan's periods. Worked examples to the fen
(the docs/credit.md examples where they apply), and properties that parts sum to the whole."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qianbao.credit.model.aging import AgedGroup, age_portfolio
from qianbao.credit.model.allocation import COMPONENT_ORDER, AllocationLine, BillOwed, allocate
from qianbao.credit.model.statement import (
    PeriodDue,
    PurchaseDue,
    StatementDraft,
    draft_statement,
)
from qianbao.credit.schedule import Period, installment_schedule, shorten_periods
from qianbao.platform.money import apply_rate

D = date
TEN_PERCENT = Decimal("0.10")
# docs/credit.md: current 1%, 1-30 10%, 31-60 30%, 61-90 50%, 90+ 100% (CreditConfig defaults)
BOUNDS_DAYS = (0, 30, 60, 90)
PROVISION_RATES = tuple(Decimal(r) for r in ("0.01", "0.10", "0.30", "0.50", "1"))
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
quick = settings(max_examples=60)
fen = st.integers(min_value=0, max_value=10_000_000)


def draft(
    purchases: list[PurchaseDue], periods: list[PeriodDue], prepaid_fen: int = 0, due_day: int = 10
) -> StatementDraft | None:
    return draft_statement(
        D(2026, 4, 1),
        due_day=due_day,
        minimum_rate=TEN_PERCENT,
        prepaid_fen=prepaid_fen,
        purchases=purchases,
        periods=periods,
    )


# --- the statement draft ------------------------------------------------------------------------
def test_example_1_a_bill_of_one_purchase() -> None:
    """docs/credit.md example 1: bill 1,234.56, minimum 10% = 123.456 -> 123.46, due 10 Apr."""
    d = draft([PurchaseDue("p-1", 123_456)], [])
    assert d is not None
    assert (d.purchase_fen, d.owed_fen, d.minimum_fen) == (123_456, 123_456, 12_346)
    assert (d.due_date, d.status, d.paid_on) == (D(2026, 4, 10), "OPEN", None)
    assert str(d) == "\n".join(
        [
            "bill 2026-04-01  due 2026-04-10  (interest-free through the due date)",
            "  kind         ref                             principal        fee",
            "  PURCHASE     p-1                               1234.56       0.00",
            "  purchases                                      1234.56",
            "  installment principal                             0.00",
            "  installment fees                                  0.00",
            "  repaid early                                      0.00",
            "  owed                                           1234.56",
            "  minimum                                         123.46",
            "  status OPEN",
        ]
    )


def test_examples_3_and_4_installment_periods_are_due_in_full() -> None:
    """Example 3's first period (205.77 + 9.26) and example 4's subsidised period (500.00, its
    37.50 fee paid by the merchant) on one bill: the minimum is every installment amount."""
    d = draft(
        [],
        [
            PeriodDue("plan-bill", 1, 20_577, 926),
            PeriodDue("plan-sub", 1, 50_000, 3_750, subsidised=True),
        ],
    )
    assert d is not None
    assert (d.inst_principal_fen, d.inst_fee_fen, d.owed_fen, d.minimum_fen) == (
        70_577,
        926,
        71_503,
        71_503,
    )
    assert [(i.kind, i.ref, i.principal_fen, i.fee_fen, i.memo) for i in d.items] == [
        ("INSTALLMENT", "plan-bill", 20_577, 926, "period 1"),
        ("INSTALLMENT", "plan-sub", 50_000, 0, "period 1 (fee paid by merchant)"),
    ]
    assert d.periods == [("plan-bill", 1), ("plan-sub", 1)]
    assert d.counter_deltas() == {
        "unbilled_fen": 0,
        "prepaid_fen": 0,
        "billed_fen": 70_577,
        "installment_fen": -70_577,
        "charges_fen": 926,
    }


def test_early_repayment_covers_purchases_only_and_the_minimum_is_capped() -> None:
    d = draft(
        [PurchaseDue("p-1", 12_345), PurchaseDue("p-2", 30_000)],
        [PeriodDue("plan-a", 2, 33_334, 1_500)],
        prepaid_fen=5_000,
    )
    assert d is not None
    # owed 42,345 - 5,000 + 33,334 + 1,500; minimum 4,234.5 -> 4,235 + 34,834
    assert (d.purchase_fen, d.prepaid_applied_fen, d.owed_fen, d.minimum_fen) == (
        42_345,
        5_000,
        72_179,
        39_069,
    )
    assert d.counter_deltas() == {
        "unbilled_fen": -37_345,
        "prepaid_fen": -5_000,
        "billed_fen": 70_679,
        "installment_fen": -33_334,
        "charges_fen": 1_500,
    }
    covered = draft([PurchaseDue("p-1", 20_000)], [], prepaid_fen=50_000)
    assert covered is not None
    assert (covered.prepaid_applied_fen, covered.owed_fen, covered.minimum_fen) == (20_000, 0, 0)
    assert (covered.status, covered.paid_on) == ("PAID", D(2026, 4, 1))


def test_nothing_due_cuts_no_bill_and_the_9th_is_a_due_day() -> None:
    assert draft([], []) is None
    d = draft([PurchaseDue("p", 100)], [], due_day=9)
    assert d is not None and d.due_date == D(2026, 4, 9)


purchases_st = st.lists(st.integers(min_value=0, max_value=5_000_000), max_size=8)
periods_st = st.lists(
    st.tuples(st.integers(1, 5_000_000), st.integers(0, 500_000), st.booleans()), max_size=6
)


@quick
@given(purchases_st, periods_st, fen)
def test_a_draft_adds_up(
    nets: list[int], periods: list[tuple[int, int, bool]], prepaid: int
) -> None:
    d = draft(
        [PurchaseDue(f"p{i}", n) for i, n in enumerate(nets)],
        [PeriodDue(f"plan{i}", 1, p, f, s) for i, (p, f, s) in enumerate(periods)],
        prepaid_fen=prepaid,
    )
    if not nets and not periods:
        assert d is None
        return
    assert d is not None
    assert sum(i.principal_fen for i in d.items) == d.purchase_fen + d.inst_principal_fen
    assert (
        sum(i.fee_fen for i in d.items) == d.inst_fee_fen == sum(f for _, f, s in periods if not s)
    )
    assert d.owed_fen + d.prepaid_applied_fen == d.total_fen
    assert 0 <= d.prepaid_applied_fen <= min(prepaid, d.purchase_fen)
    assert 0 <= d.minimum_fen <= d.owed_fen
    deltas = d.counter_deltas()
    # the counters sum to the receivable: the bill adds exactly its fee voucher to them
    assert sum(v for k, v in deltas.items() if k != "prepaid_fen") == d.inst_fee_fen
    assert deltas["prepaid_fen"] == -d.prepaid_applied_fen


# --- the repayment allocation -------------------------------------------------------------------
def bill(sid: str, interest: int, inst_fee: int, inst_principal: int, purchase: int) -> BillOwed:
    return BillOwed(
        sid,
        {
            "interest": interest,
            "inst_fee": inst_fee,
            "inst_principal": inst_principal,
            "purchase": purchase,
        },
    )


def test_example_2_interest_first_then_principal() -> None:
    """Example 2: 17 days of interest (29.41) are paid before the bill's 3,456.78."""
    a = allocate(348_619, [bill("apr", 2_941, 0, 0, 345_678)], unbilled_fen=0)
    assert a.lines == (
        AllocationLine("apr", "interest", 2_941),
        AllocationLine("apr", "purchase", 345_678),
    )
    assert (a.total_fen, a.charges_fen, a.principal_fen, a.left_fen) == (348_619, 2_941, 345_678, 0)


def test_each_part_across_all_bills_oldest_first_then_unbilled() -> None:
    bills = [bill("mar", 100, 50, 1_000, 2_000), bill("apr", 30, 0, 500, 4_000)]
    a = allocate(1_700, bills, unbilled_fen=10_000)
    assert [(line.statement_id, line.part, line.fen) for line in a.lines] == [
        ("mar", "interest", 100),
        ("apr", "interest", 30),
        ("mar", "inst_fee", 50),
        ("mar", "inst_principal", 1_000),
        ("apr", "inst_principal", 500),
        ("mar", "purchase", 20),
    ]
    assert a.paid_by_statement() == {
        "mar": {"interest": 100, "inst_fee": 50, "inst_principal": 1_000, "purchase": 20},
        "apr": {"interest": 30, "inst_principal": 500},
    }
    assert (a.charges_fen, a.principal_fen, a.early_fen) == (180, 1_520, 0)
    more = allocate(10_000, bills, unbilled_fen=1_000)  # bills owe 7,680
    assert (more.early_fen, more.total_fen, more.left_fen) == (1_000, 8_680, 1_320)
    assert more.lines[-1] == AllocationLine(None, "unbilled", 1_000)
    only_bills = allocate(10_000, bills)  # a refund: statements only
    assert (only_bills.early_fen, only_bills.total_fen, only_bills.left_fen) == (0, 7_680, 2_320)
    assert "(unbilled)" in str(more) and "left over" in str(more)


parts_st = st.tuples(*(st.integers(0, 1_000_000) for _ in COMPONENT_ORDER))


@quick
@given(fen, st.lists(parts_st, max_size=5), st.none() | fen)
def test_an_allocation_adds_up_and_keeps_the_order(
    amount: int, owed: list[tuple[int, ...]], unbilled: int | None
) -> None:
    bills = [bill(f"s{i}", *parts) for i, parts in enumerate(owed)]
    a = allocate(amount, bills, unbilled)
    owed_total = sum(map(sum, owed)) + (unbilled or 0)
    assert a.total_fen == min(amount, owed_total)
    assert a.total_fen + a.left_fen == amount
    assert a.charges_fen + a.principal_fen + a.early_fen == a.total_fen
    paid = a.paid_by_statement()
    for b in bills:
        for part in COMPONENT_ORDER:
            assert 0 <= paid.get(b.statement_id, {}).get(part, 0) <= b.parts_fen[part]
    # nothing of a later part is paid while an earlier part of any bill is left unpaid
    for k, part in enumerate(COMPONENT_ORDER):
        if any(line.part in COMPONENT_ORDER[k + 1 :] + ("unbilled",) for line in a.lines):
            assert all(
                paid.get(b.statement_id, {}).get(part, 0) == b.parts_fen[part] for b in bills
            )


# --- aging and provisions -----------------------------------------------------------------------
def test_receivables_by_bucket_and_their_provision() -> None:
    aging = age_portfolio(
        [
            AgedGroup(0, 10, 1_000_000),
            AgedGroup(16, 1, 348_619),  # example 2, 16 days past due: bucket 1-30, 10%
            AgedGroup(45, 2, 100_001),
            AgedGroup(200, 1, 50_000),
        ],
        bounds_days=BOUNDS_DAYS,
        rates=PROVISION_RATES,
        names=BUCKETS,
    )
    assert aging.receivables_fen == (1_000_000, 348_619, 100_001, 0, 50_000)
    assert aging.provision_fen == (10_000, 34_862, 30_000, 0, 50_000)
    assert (aging.accounts, aging.overdue_accounts, aging.overdue_fen) == (14, 4, 498_620)
    assert aging.total_receivables_fen == 1_498_620
    assert str(aging).splitlines()[-1] == "14 accounts, 4 overdue owing 4986.20"


@quick
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 50), fen), max_size=20))
def test_aging_puts_every_fen_in_one_bucket(groups: list[tuple[int, int, int]]) -> None:
    aging = age_portfolio(
        [AgedGroup(*g) for g in groups], bounds_days=BOUNDS_DAYS, rates=PROVISION_RATES
    )
    assert aging.total_receivables_fen == sum(owed for _, _, owed in groups)
    assert aging.overdue_fen == sum(owed for days, _, owed in groups if days > 0)
    assert aging.provision_fen == tuple(
        apply_rate(b, r) for b, r in zip(aging.receivables_fen, PROVISION_RATES, strict=True)
    )


# --- refunds off a plan's future periods --------------------------------------------------------
def test_a_refund_shortens_the_last_periods_first() -> None:
    """Example 6's plan (6 x 500.00 + 22.50), 700.00 refunded: period 6 goes, period 5 keeps
    300.00 and 300/500 of its fee (13.50)."""
    plan = installment_schedule(300_000, 6, 13_500, D(2026, 4, 1), 1)
    cuts, taken = shorten_periods(plan, 70_000)
    assert taken == 70_000
    assert [(c.number, c.principal_fen, c.fee_fen, c.status) for c in cuts] == [
        (6, 0, 0, "REFUNDED"),
        (5, 30_000, 1_350, "PENDING"),
    ]


@quick
@given(
    st.integers(1, 2_000_000),
    st.sampled_from([3, 6, 9, 12]),
    st.integers(0, 200_000),
    st.integers(0, 3_000_000),
)
def test_a_refund_takes_exactly_what_it_can(
    principal: int, periods: int, fee: int, refund: int
) -> None:
    if principal < periods:
        principal = periods
    plan: list[Period] = installment_schedule(principal, periods, fee, D(2026, 4, 1), 1)
    cuts, taken = shorten_periods(plan, refund)
    assert taken == min(refund, principal)
    left = {p.number: p.principal_fen for p in plan} | {c.number: c.principal_fen for c in cuts}
    assert sum(left.values()) == principal - taken
    assert all(
        0 <= c.fee_fen <= next(p.fee_fen for p in plan if p.number == c.number) for c in cuts
    )


def test_the_defaults_used_here_are_the_configured_ones() -> None:
    from dataclasses import fields

    from qianbao.credit.config import CreditConfig

    defaults = {f.name: f.default for f in fields(CreditConfig)}
    assert (defaults["bucket_bounds_days"], defaults["provision_rates"]) == (
        BOUNDS_DAYS,
        PROVISION_RATES,
    )
    assert defaults["minimum_rate"] == TEN_PERCENT
