"""The one money-movement engine: every payment and every refund goes through here.

A payment is the payer's funding (balance, bound card, Huabei; a coupon with one of them) →
guards (merchant active, payer authorised, KYC and daily limits) → a quote (fee, coupon split,
subsidy) → the merchant's proceeds by its contract (instant or T+1) or escrow → one voucher →
the purpose's own rows (a plain payment, a trade, a Huabei purchase), all in one unit command.
A refund mirrors it. Funding sources, proceeds policies and purposes are ports
(``ports.py``) that the product packages implement and ``bootstrap.py`` wires; this package
imports nothing above it. See docs/decisions/0009-one-money-movement-engine.md.
"""
