"""Customer notifications: an outbox of notices per user, delivered through SMS, push and e-mail
gateways (simulators here) by a worker, with templates in Chinese and English, per-user
preferences and quiet hours; and one-time codes sent through it."""
