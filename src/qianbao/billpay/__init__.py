"""Bill payment (缴费): water, power, gas, phone and traffic fines, paid to billers that are
merchants of the platform, reached through a biller channel (a simulator with its own books)."""
