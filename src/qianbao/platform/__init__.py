"""PaaS layer: settings, units and routing, engines, writer, messages, idempotency, clock."""
