"""Real-time risk control (风控): a decision on every money movement in the payer's unit, rules
as data, velocity counters, freezes, challenges, cases and the fraud simulator and model."""
