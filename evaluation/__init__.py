"""`docent eval`: run the answer chain over a gold set and score what a user would see (issue 10).

gold.py loads and checks gold files, runner.py runs the chain, scoring.py turns per-question records
into figures (pure functions), report.py writes JSON, Markdown and the reliability diagram, and
gate.py compares a run with a committed baseline (the `make test` quality gate).
"""
