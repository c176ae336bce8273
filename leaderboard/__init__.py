"""Scored checkpoints in a database (SQLAlchemy) and the terminal leaderboard."""
