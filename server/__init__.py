"""A hidden-test evaluation server for vcval (``vcval serve``): teams upload predictions, the server scores
them against answers that never leave it, and a live leaderboard shows every number with its 95% interval
and tied-rank groups. See ``docs/server.md``.

Layering: this package sits on top of :mod:`benchmark` (validator, scorer, protocol) and
:mod:`leaderboard` (submissions store, significance, CSS); nothing below imports it."""
