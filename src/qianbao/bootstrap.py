"""Open a platform: migrate every database, attach the bank channels, open platform accounts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import qianbao.backoffice.tables

# Every package's tables, on the unit and global metadata (for migrations' autogenerate and the
# tests): the platform's schema module may not import the packages above it.
import qianbao.billpay.tables
import qianbao.channels.tables
import qianbao.credit.tables
import qianbao.ledger.tables
import qianbao.marketing.reductions.tables
import qianbao.marketing.tables
import qianbao.members.session_tables
import qianbao.members.tables
import qianbao.notices.tables
import qianbao.onboarding.tables
import qianbao.payments.moneyout.tables
import qianbao.payments.settlement_tables
import qianbao.payments.tables
import qianbao.payments.trades_tables
import qianbao.platform.control_tables
import qianbao.platform.crypto_tables
import qianbao.platform.route_tables
import qianbao.platform.tables
import qianbao.redpackets.tables
import qianbao.risk.tables
import qianbao.scoring.tables  # noqa: F401
import qianbao.wealth.tables  # noqa: F401
from qianbao import demo as demo_data
from qianbao.backoffice import actions as backoffice_actions
from qianbao.backoffice import adjustments as backoffice_adjustments
from qianbao.backoffice import errors as backoffice_errors
from qianbao.billpay import autopay as billpay_autopay
from qianbao.billpay import errors as billpay_errors
from qianbao.billpay import service as billpay
from qianbao.billpay.biller.simulator import BillerSimulator
from qianbao.billpay.purpose import BILL, BillPurpose
from qianbao.channels import errors as channels_errors
from qianbao.channels.guarded import GuardedChannel
from qianbao.channels.journal import JournaledChannel
from qianbao.channels.resolve import BookSuspense
from qianbao.channels.simulator import BankSimulator
from qianbao.credit import config as credit_config
from qianbao.credit import errors as credit_errors
from qianbao.credit import installments as credit_installments
from qianbao.credit import lines as credit_lines
from qianbao.credit import offers as credit_offers
from qianbao.credit import ports as credit_ports
from qianbao.credit import purchases as huabei
from qianbao.credit import reads as credit_reads
from qianbao.credit import repayments as credit_repayments
from qianbao.ledger.chart import in_transit, unit_account
from qianbao.ledger.service import OpenAccount, handle_open_account, open_account
from qianbao.marketing import errors as marketing_errors
from qianbao.marketing import service as marketing
from qianbao.marketing.reductions import service as reductions
from qianbao.members import errors as members_errors
from qianbao.money_movement import errors as money_movement_errors
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import (
    BALANCE,
    CARD,
    HUABEI,
    HUABEI_PURCHASE,
    PAYMENT,
    TRADE,
    YUEBAO,
    Pay,
    Refund,
)
from qianbao.money_movement.funding import BalanceFunding, CardFunding
from qianbao.money_movement.pay import handle_pay
from qianbao.money_movement.ports import Ports
from qianbao.money_movement.refund import handle_refund
from qianbao.notices import alerts as notice_alerts
from qianbao.notices import codes as notice_codes
from qianbao.notices import config as notices_config
from qianbao.notices import errors as notices_errors
from qianbao.notices import gateway as notice_gateway
from qianbao.notices import prefs as notice_prefs
from qianbao.notices import service as notices
from qianbao.onboarding import errors as onboarding_errors
from qianbao.openapi import errors as openapi_errors
from qianbao.openapi import notify
from qianbao.payments import activity, secured, settlement, trade_purpose, trades
from qianbao.payments import errors as payments_errors
from qianbao.payments import service as payments
from qianbao.payments.codes import IssuePaymentCode, SetCodeFunding
from qianbao.payments.moneyout import errors as moneyout_errors
from qianbao.payments.moneyout import orders as moneyout_orders
from qianbao.payments.moneyout import payouts as moneyout_payouts
from qianbao.platform import crypto, logmask, route_store
from qianbao.platform.commands import run_itself
from qianbao.platform.db import Database, Row, Tx
from qianbao.platform.ids import new_id
from qianbao.platform.migrations import upgrade
from qianbao.platform.modes import check_start
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings, load_settings
from qianbao.platform.writer import WriteContext
from qianbao.redpackets import claims as redpacket_claims
from qianbao.redpackets import errors as redpackets_errors
from qianbao.redpackets import service as redpackets
from qianbao.risk import engine as risk_engine
from qianbao.risk import errors as risk_errors
from qianbao.risk import model as risk_model
from qianbao.risk import payees as risk_payees
from qianbao.risk import rules as risk_rules
from qianbao.risk import service as risk_service
from qianbao.scoring import errors as scoring_errors
from qianbao.scoring import service as scoring
from qianbao.wealth import calendar as yuebao_calendar
from qianbao.wealth import errors as wealth_errors
from qianbao.wealth import funding as yuebao_funding
from qianbao.wealth import orders as yuebao_orders
from qianbao.wealth import state as yuebao_state
from qianbao.wealth.fundco import FundCompany

log = logging.getLogger("qianbao")
CHANNELS = ("SIMBANK",)


def migrate(settings: Settings) -> None:
    open_keyring(settings)  # the migrations that seal rows use this platform's keys
    upgrade("global", Database(settings.global_database_url))
    for unit in range(settings.unit_count):
        upgrade("unit", Database(settings.unit_database_url(unit)))


def with_stored_routes(settings: Settings, run_migrations: bool) -> Settings:
    """The stored route table's unit count and routes (ADR 0935); a unit added since the last
    start gets its database migrated."""
    stored = route_store.stored_settings(settings)
    if run_migrations and stored.unit_count > settings.unit_count:
        migrate(stored)
    return stored


def open_keyring(settings: Settings) -> crypto.KeyRing:
    """The key-encryption keys (configured or the sandbox's file), handed to the migrations
    that seal existing rows; and every log record masked from here on (platform/logmask.py)."""
    logmask.install()
    keyring = crypto.load_keyring(settings.kek, settings.kek_file, settings.data_dir)
    crypto.install_keyring(keyring)
    return keyring


def platform_accounts(unit: int, units: int) -> list[str]:
    accounts = [unit_account(s, unit) for s in ("fee_income", "withdrawal_clearing")]
    accounts += [unit_account("bank_reserve", unit, ch) for ch in CHANNELS]
    accounts += [in_transit(unit, peer) for peer in range(units) if peer != unit]
    accounts += yuebao_state.platform_accounts(unit)
    return accounts


class StoredScores:
    """``credit.ports.ScoreSource``: the scores the scoring package stores."""

    def latest_score(self, p: Platform, user_id: str) -> int | None:
        return scoring.latest_score(p, user_id)

    def latest_score_in(self, tx: Tx, user_id: str) -> int | None:
        return scoring.latest_score_in(tx, user_id)

    def rescore(self, p: Platform, user_ids: list[str]) -> int:
        return scoring.rescore_scored(p, user_ids)


class TradeOrderBuckets:
    """``credit.ports.TradeOrders``: payments' routing of trades by merchant order (0301)."""

    def order_bucket(self, merchant_id: str, out_trade_no: str) -> int:
        return trades.order_bucket(merchant_id, out_trade_no)


def open_platform(
    settings: Settings | None = None, *, start: bool = True, run_migrations: bool = True
) -> Platform:
    settings = settings or load_settings()
    credit_config.load(settings.extra.get("credit"))  # a bad rate stops the start, not a bill
    credit_ports.wire(StoredScores(), TradeOrderBuckets())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = open_keyring(settings)
    if run_migrations:
        migrate(settings)
    settings = with_stored_routes(settings, run_migrations)
    p = Platform(settings)
    route_store.refresh(p)  # the stored version's paused buckets (a move in progress)
    p.vault = crypto.Vault(p.global_db, keyring).open()
    refuse_unsafe_start(p)
    wire_money_movement(p)
    wire_risk(p)
    p.credit_behaviour = CreditForScoring()
    wire_credit_commands(p)
    wire_marketing_commands(p)
    wire_notices(p)
    p.step_up = NoticeCodes()  # members' step-up codes go out through notices
    wire_redpackets(p)
    wire_money_out(p)
    wire_billpay(p)
    register_error_codes(p)
    wire_wealth(p)
    backoffice_actions.register_all()  # what maker-checker approvals run
    p.commands.register(backoffice_adjustments.Adjust, run_itself)  # travels to the user's unit
    bank = BankSimulator(
        Database(settings.bank_database_url, name="bank"),
        latency_ms=settings.bank_latency_ms,
        failure_rate=settings.bank_failure_rate,
        timeout_rate=settings.bank_timeout_rate,
        seed=settings.bank_seed,
        sandbox_open_balance_fen=settings.bank_sandbox_open_balance_fen,
        hang_ms=settings.bank_hang_ms,
    )
    guarded = GuardedChannel(bank, p.breakers.get("bank.SIMBANK", settings.bank_call_timeout_s))
    p.channels["SIMBANK"] = JournaledChannel(guarded, p.global_db, p.vault)
    p.start(relay=start)
    for unit in p.owned_units:  # a unit process opens its own unit's (distributed mode)
        p.writers[unit].submit(_platform_accounts_opener(unit, len(p.units)))
        if p.money.risk is not None:  # before the unit serves, not in its first batch
            p.writers[unit].submit(p.money.risk.warm)
    if len(p.owned_units) == len(p.units):  # else `qianbao cluster init` opened them once
        trades.open_trade_accounts(p)
    return p


def refuse_unsafe_start(p: Platform) -> None:
    """Production refuses the default secret key, demo data and an unnamed bank simulator
    (``platform/modes.py``); the platform's databases are closed before it stops."""
    try:
        check_start(p.settings, demo_present=demo_data.demo_present(p))
    except SystemExit:
        p.close()
        raise


class CreditForScoring:
    """Scoring's ``CreditBehaviour`` port: Huabei's repayment history, and a new score
    repricing the user's Huabei account."""

    def repayment_history(self, p: Platform, user_id: str) -> dict[str, int]:
        return credit_reads.repayment_history(p, user_id)

    def open_installment_plans(self, p: Platform, user_id: str) -> int:
        return sum(1 for plan in credit_reads.list_plans(p, user_id) if plan["status"] == "ACTIVE")

    def on_new_score(
        self, ctx: WriteContext, user_id: str, score: int, source: str, actor: str
    ) -> None:
        credit_lines.reprice(ctx, user_id, score, source, actor)


def wire_money_movement(p: Platform) -> None:
    """The one engine's ports: funding sources, proceeds by contract, purposes, coupons; and
    the handlers of the wallet's commands."""
    p.money = Ports(
        funding={
            BALANCE: BalanceFunding(),
            CARD: CardFunding(),
            HUABEI: huabei.HuabeiFunding(),
            YUEBAO: yuebao_funding.YuebaoFunding(),
        },
        proceeds=dict(settlement.PROCEEDS),
        purposes={
            PAYMENT: payments.PaymentPurpose(),
            TRADE: trade_purpose.TradePurpose(),
            HUABEI_PURCHASE: huabei.HuabeiPurchasePurpose(),
        },
        coupons=marketing.CouponFunding(),
        offers=credit_offers.TradeOffers(),
    )
    p.relay.subscribe("transfer.credit", payments.credit_transfer, payments.transfer_committed)
    p.relay.subscribe(activity.ACTIVITY, activity.index_activity, activity.activity_committed)
    p.relay.subscribe(activity.ACTIVITIES, activity.index_activities, activity.activities_committed)
    p.commands.register(Pay, handle_pay)
    p.commands.register(OpenAccount, handle_open_account)  # can travel to a unit's process
    for kind in (trades.OpenTradeOrder, trades.OpenTrade, trades.BindTradeBuyer, IssuePaymentCode):
        p.commands.register(kind, run_itself)
    p.commands.register(SetCodeFunding, run_itself)
    p.commands.register(risk_service.MoveChallenge, run_itself)  # a step-up challenge's answer
    p.commands.register(notify.ResendNotify, run_itself)
    p.commands.register(scoring.RecordScore, run_itself)
    p.commands.register(BookSuspense, run_itself)  # an operator's suspense booking, unit 0
    for closer in (trades.CloseTrade, trades.CloseOrder):
        p.commands.register(closer, run_itself)
    for secured_kind in secured.COMMANDS:  # secured-trade follow-ups travel to a unit's process
        p.commands.register(secured_kind, run_itself)
    p.commands.register(Refund, handle_refund)
    p.commands.register(payments.Transfer, payments.handle_transfer)
    p.commands.register(payments.OpenBankOrder, payments.handle_open_bank_order)
    p.commands.register(payments.SettleBankOrder, payments.handle_settle_bank_order)


def wire_risk(p: Platform) -> None:
    """The engine's ``RiskCheck``: the rule file (``settings.extra["risk"]["rules_path"]``, or
    the package's), the trained model, how a challenged command resumes, cases on rejections.
    ``{"risk": {"enabled": false}}`` leaves it out (the benchmark's reference run);
    ``{"risk": {"model": false}}`` keeps the rules but scores no model (the other areas' tests:
    their scripted users do in a minute what the model rightly finds suspicious)."""
    cfg = p.settings.extra.get("risk") or {}
    if cfg.get("enabled", True) is False:
        return
    rules = risk_rules.RuleFile(Path(cfg.get("rules_path") or risk_rules.DEFAULT_PATH))
    model = risk_model.load() if cfg.get("model", True) else risk_model.NO_MODEL
    engine = risk_engine.RiskEngine(p, rules, model)
    engine.resumers[Pay] = _resume_pay
    engine.resumers[payments.OpenBankOrder] = lambda p, _unit, order: payments.resume_bank_order(
        p, order
    )
    engine.on_rejected.append(lambda rows: risk_service.open_cases_for(p, rows))
    if cfg.get("shadow_rules_path"):  # shadow mode: a candidate decides beside the live set
        shadow_model = Path(cfg.get("shadow_model_path") or risk_model.DEFAULT_PATH)
        engine.shadow = risk_engine.Shadow(
            risk_rules.RuleFile(Path(cfg["shadow_rules_path"])), risk_model.load(shadow_model)
        )
    engine.codes = NoticeCodes()
    p.money.risk = engine
    p.relay.subscribe(risk_payees.INBOUND, engine.on_inbound, risk_payees.committed)
    p.relay.subscribe(risk_payees.VIEWS, engine.on_views, risk_payees.committed)
    risk_service.restore_watchlist(p)
    p.registration_screens.append(lambda user: risk_service.screen_registration(p, user))


class NoticeCodes:
    """The notices package's one-time codes by SMS, as risk's and members' ``OneTimeCodes``."""

    def issue(self, p: Platform, user_id: str, purpose: str) -> str:
        return notice_codes.issue_code(p, user_id, purpose)

    def check(self, p: Platform, user_id: str, code_id: str, code: str) -> bool:
        return notice_codes.check_code(p, user_id, code_id, code)


def _resume_pay(p: Platform, unit: int, pay: Pay) -> Row:
    """A challenged card payment charges the card again under a new bank request."""
    if pay.funding == CARD:
        pay = replace(pay, charge_ref=f"{pay.charge_ref[:24]}R{new_id(0)[-8:]}")
    return money_pay.submit(p, unit, pay)


def wire_notices(p: Platform) -> None:
    """Customer notifications: the gateway simulator (its own database), the consumer of
    notices asked for from another unit, and the commands (send, preferences, one-time codes)."""
    cfg = notices_config.load(p.settings.extra.get("notices"))
    gateway = notice_gateway.GatewaySimulator(
        Database(f"sqlite:///{p.settings.data_dir / 'notice_gateway.db'}", name="notice gateway"),
        failure_rate=cfg.gateway_failure_rate,
        seed=cfg.gateway_seed,
    )
    p.notices = notices.Notices(gateway=gateway, config=cfg)
    p.money.observers.append(notice_alerts.LargePaymentAlerts(cfg.large_payment_fen))
    p.relay.subscribe(notices.TOPIC, notices.accept_requested, notices.requested_committed)
    p.commands.register(notices.SendNotice, notices.handle_send_notice)
    p.commands.register(notice_prefs.SetPrefs, notice_prefs.handle_set_prefs)
    p.commands.register(notice_codes.IssueCode, notice_codes.handle_issue_code)
    p.commands.register(notice_codes.CheckCode, notice_codes.handle_check_code)


def wire_redpackets(p: Platform) -> None:
    """Red packets: send, claim and refund commands; claims credited in the claimer's unit."""
    redpackets.config_of(p)  # a bad limit stops the start, not a packet
    p.relay.subscribe(
        redpackets.TOPIC, redpacket_claims.credit_claim, redpacket_claims.claim_committed
    )
    p.commands.register(redpackets.SendRedPacket, redpackets.handle_send)
    p.commands.register(redpacket_claims.ClaimRedPacket, redpacket_claims.handle_claim)
    p.commands.register(redpacket_claims.RefundRedPacket, redpacket_claims.handle_refund)


def wire_wealth(p: Platform) -> None:
    """Yu'e Bao: its configuration (``[yuebao]``), the fund company simulator with its own
    database and one omnibus account per unit, its commands, and the Huabei auto-debit order
    (wallet, then Yu'e Bao, then the bound card)."""
    config = yuebao_calendar.load(p.settings.extra.get("yuebao"))
    fund_db = Database(f"sqlite:///{p.settings.data_dir / 'fund.db'}", name="fund")
    fund = FundCompany(fund_db, config)
    for unit in range(len(p.units)):
        fund.open_account(yuebao_state.fund_account_no(unit))
    p.wealth = yuebao_state.Yuebao(config, fund)
    p.autodebit_sources.append(yuebao_funding.YuebaoAutodebit())
    p.commands.register(yuebao_orders.Subscribe, yuebao_orders.handle_subscribe)
    p.commands.register(yuebao_orders.Redeem, yuebao_orders.handle_redeem)


def wire_money_out(p: Platform) -> None:
    """Merchant payouts and transfers to a bank card (payments/moneyout)."""
    p.commands.register(moneyout_orders.OpenMoneyOut, moneyout_orders.handle_open)
    p.commands.register(moneyout_orders.SettleMoneyOut, moneyout_orders.handle_settle)
    p.commands.register(moneyout_payouts.SweepMerchant, moneyout_payouts.handle_sweep)
    p.relay.subscribe(
        moneyout_payouts.SWEEP_TOPIC,
        moneyout_payouts.credit_sweep,
        moneyout_payouts.sweep_committed,
    )


def wire_billpay(p: Platform) -> None:
    """Bill payment: the purpose of the engine, its commands, and the biller network (a
    simulator with its own books, the outside party)."""
    p.money.purposes[BILL] = BillPurpose()
    p.commands.register(billpay.CreateBillPayment, billpay.handle_create)
    p.commands.register(billpay.SettleBill, billpay.handle_settle)
    p.commands.register(billpay.CloseBillPayment, billpay.handle_close)
    p.commands.register(billpay_autopay.SignAgreement, billpay_autopay.handle_sign)
    p.commands.register(billpay_autopay.CancelAgreement, billpay_autopay.handle_cancel)
    biller_db = Database(f"sqlite:///{p.settings.data_dir / 'billers.db'}", name="billers")
    p.billers = BillerSimulator(biller_db)
    p.payout_holds.append(billpay.UnansweredBills())  # moneyout.ports.PayoutHold


def wire_marketing_commands(p: Platform) -> None:
    p.commands.register(marketing.IssueCoupon, marketing.handle_issue_coupon)
    wire_reductions(p)


def wire_reductions(p: Platform) -> None:
    """Full-reduction offers (满减): the engine's Reductions port and the budget slices."""
    p.money.reductions = reductions.ReductionOffers()
    p.commands.register(reductions.OpenReductionBudget, reductions.handle_open_budget)


def wire_credit_commands(p: Platform) -> None:
    """The handlers of credit's user and operator writes (day-end jobs stay closures)."""
    p.commands.register(credit_lines.OpenCreditLine, credit_lines.handle_open_credit_line)
    p.commands.register(credit_lines.RequestLineIncrease, credit_lines.handle_request_line_increase)
    p.commands.register(credit_lines.SetLine, credit_lines.handle_set_line)
    p.commands.register(credit_lines.FreezeCredit, credit_lines.handle_freeze_credit)
    p.commands.register(credit_lines.SetAutodebit, credit_lines.handle_set_autodebit)
    p.commands.register(credit_repayments.Repay, credit_repayments.handle_repay)
    p.commands.register(credit_installments.InstallBill, credit_installments.handle_install_bill)
    p.commands.register(
        credit_installments.InstallPurchase, credit_installments.handle_install_purchase
    )
    p.commands.register(credit_installments.SettlePlan, credit_installments.handle_settle_plan)
    for offer_kind in (credit_offers.DeclareOffer, credit_offers.DiscardOrphanOffer):
        p.commands.register(offer_kind, run_itself)


def _platform_accounts_opener(unit: int, units: int) -> Callable[[WriteContext], None]:
    def command(ctx: WriteContext) -> None:
        for account in platform_accounts(unit, units):
            open_account(ctx.tx, account, f"u{unit}")

    return command


def register_error_codes(p: Platform) -> None:
    """Each package's stable error codes on the platform, so the API can list them (the
    platform imports no package above it)."""
    p.error_codes.update(
        billpay=billpay_errors.Code,
        backoffice=backoffice_errors.Code,
        channels=channels_errors.Code,
        credit=credit_errors.Code,
        marketing=marketing_errors.Code,
        members=members_errors.Code,
        moneyout=moneyout_errors.Code,
        money_movement=money_movement_errors.Code,
        notices=notices_errors.Code,
        onboarding=onboarding_errors.Code,
        openapi=openapi_errors.Code,
        payments=payments_errors.Code,
        redpackets=redpackets_errors.Code,
        risk=risk_errors.Code,
        scoring=scoring_errors.Code,
        wealth=wealth_errors.Code,
    )
    p.error_codes["openapi.gateway"] = openapi_errors.SubCode  # the envelope's sub_code
