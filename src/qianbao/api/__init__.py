"""HTTP API: thin routers that map requests to services and domain errors to 4xx codes."""
