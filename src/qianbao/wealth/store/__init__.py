"""Yu'e Bao's SQL: the platform's orders and day-end steps (``orders``), and the fund company
simulator's own books (``fundco``)."""
