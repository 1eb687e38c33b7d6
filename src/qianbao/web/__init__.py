"""Console pages: server-rendered Jinja2 templates."""
