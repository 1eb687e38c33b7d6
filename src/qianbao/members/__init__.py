"""Members: users with real-name data, bank cards, merchants, operators and credentials."""
