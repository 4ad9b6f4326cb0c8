"""Leaderboards of detbench: boards of ranked methods per (dataset, protocol), stored as reviewable JSON files.

Layout (``leaderboards/boards`` by default, always an explicit argument): ``<board_id>/board.json`` (a
:class:`~leaderboards.schema.BoardSpec`) and ``<board_id>/entries/<slug>.json`` (one
:class:`~leaderboards.schema.Entry` per file). Read with :func:`leaderboards.store.load_boards`; write entries
with :func:`leaderboards.store.write_entry`. User documentation: leaderboards/README.md.
"""
