"""Yu'e Bao's wiring on a platform (``Platform.wealth``): its configuration and the fund."""

from __future__ import annotations

from dataclasses import dataclass

from qianbao.ledger.chart import account_id, unit_account
from qianbao.platform.runtime import Platform
from qianbao.wealth.calendar import YuebaoConfig
from qianbao.wealth.fundco import FundCompany

FUND = "YEB"  # the qualifier of the platform's fund accounts (fund_custody:YEB@u0)


@dataclass
class Yuebao:
    config: YuebaoConfig
    fund: FundCompany

    def close(self) -> None:
        self.fund.close()


def of(p: Platform) -> Yuebao:
    wiring = p.wealth
    if not isinstance(wiring, Yuebao):
        raise RuntimeError("Yu'e Bao is not wired: open the platform through bootstrap")
    return wiring


def fund_account_no(unit: int) -> str:
    """The unit's omnibus account at the fund company."""
    return f"QB-YEB-u{unit}"


def unit_of_fund_account(account_no: str) -> int:
    return int(account_no.rsplit("-u", 1)[1])


def shares(user_id: str) -> str:
    return account_id("fund_shares", user_id)


def pending(user_id: str) -> str:
    return account_id("fund_pending", user_id)


def redeeming(user_id: str) -> str:
    return account_id("fund_redeeming", user_id)


def custody(unit: int) -> str:
    return unit_account("fund_custody", unit, FUND)


def clearing(unit: int) -> str:
    return unit_account("fund_clearing", unit, FUND)


def retained(unit: int) -> str:
    return unit_account("fund_retained", unit, FUND)


def platform_accounts(unit: int) -> list[str]:
    return [custody(unit), clearing(unit), retained(unit)]
