"""Wealth products: Yu'e Bao (余额宝), a money-market fund balance held as fund shares.

See docs/yuebao.md and docs/decisions/0700-0705.
"""
