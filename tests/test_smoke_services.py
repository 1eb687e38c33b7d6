from qianbao.payments import service as pay
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user


def test_topup_transfer_across_units_and_ledger_clean(platform):
    a = new_user(platform, unit=0, balance_fen=10_000)
    b = new_user(platform, unit=1)
    pay.transfer(platform, a, b, 2_500, "x1", PAY_PASSWORD)
    assert_ledger_clean(platform)
    assert pay.balance(platform, a)["balance_fen"] == 7_500
    assert pay.balance(platform, b)["balance_fen"] == 2_500
