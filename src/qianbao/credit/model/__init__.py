"""Pure credit arithmetic (the Fineract way): compute a value from plain inputs, print it, check
it by hand; the use cases persist it. Nothing here touches a database or a platform."""
