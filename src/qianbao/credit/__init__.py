"""Huabei (花呗) consumer credit: lines, purchases, statements, repayments, installments,
overdue interest, provisions and the credit simulation."""
