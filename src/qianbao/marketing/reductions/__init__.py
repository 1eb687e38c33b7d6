"""Full-reduction offers (满减): "spend X, get Y off", tiered, platform- or merchant-funded, with
a budget that cannot be overspent, applied at the cashier through the engine's ``Reductions``
port and refunded in proportion. See docs/decisions/0723-full-reduction-offers.md."""
