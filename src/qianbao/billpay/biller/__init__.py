"""A biller network simulator (the outside party): the billers' own books of accounts, bills
and write-offs, and their daily reconciliation files."""
