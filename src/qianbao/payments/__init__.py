"""Payments: top-up, withdrawal, transfers, merchant payments and refunds, limits and fees."""
