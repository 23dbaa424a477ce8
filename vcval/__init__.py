"""The ``vcval`` application: the command line, a thin layer of argparse over the libraries below it
(``benchmark``, ``baselines``, ``ccgs``, ``leaderboard``, ``server``). Nothing imports this package; see
docs/architecture.md."""
