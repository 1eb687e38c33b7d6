"""Double-entry bookkeeping: the chart, accounts, vouchers, postings, balances and holds."""
