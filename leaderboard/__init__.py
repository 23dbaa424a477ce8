"""Submissions store and leaderboard: stored entries, comparable tables, Markdown/CSV/LaTeX/HTML, plots,
and the paper's tables from recorded runs."""
