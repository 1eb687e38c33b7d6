"""Money out (出金): merchants' payouts of their settlement balance to their bank account, and
users' transfers to any bank card (转账到卡). Both are orders sent through a bank channel:
PENDING until the bank answers, then SUCCEEDED, or FAILED with the debit reversed in full."""
