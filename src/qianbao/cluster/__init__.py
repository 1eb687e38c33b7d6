"""Units as processes: ``serve-unit`` (one process per unit), the stateless access layer and
the local cluster (``qianbao cluster up``). See docs/decisions/0400-0405 and docs/deploy.md."""
