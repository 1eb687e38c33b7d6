"""Moving route buckets between units online, and adding a unit (issue 12 item 2; ADR 0935).

``classify.py`` every unit table's
rule (how its rows follow a bucket), ``store.py`` their SQL, ``move.py`` the move's state machine,
``grow.py`` adding a unit and rebalancing, ``cli.py`` ``qianbao units ...``.
"""
