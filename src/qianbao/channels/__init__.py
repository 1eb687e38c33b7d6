"""Bank channels: the gateway interface and a bank simulator with its own books."""
