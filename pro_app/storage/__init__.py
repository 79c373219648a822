"""Where the app keeps its data. Everything else imports from here and never knows the backend.

``common.py``   errors, the save stamp, ids and times: what every backend shares with the app
``tinydb.py``   the embedded backend: TinyDB files in one data folder (``Store``)
``files.py``    durable files under it: kernel locks, atomic replacement, append-only logs, a read cache
``migrate.py``  brings a data folder written by an older version to today's layout, on start
"""
from __future__ import annotations

from .common import AlreadyCompleted, NotFound, StaleWrite, Stamp, StorageError, new_id, now
from .files import DIR_MODE, FILE_MODE
from .tinydb import Store

__all__ = ["Store", "StorageError", "NotFound", "AlreadyCompleted", "StaleWrite", "Stamp", "FILE_MODE", "DIR_MODE",
           "now", "new_id"]
