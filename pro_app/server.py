"""The production server: gunicorn with a thread worker that cannot write into the app's files.

Why not gunicorn's own ``gthread`` worker as it is: when a worker shuts down (its master died,
or it was told to stop) it closes the pipe its request threads use to wake the main loop
while those threads may still be finishing requests. Each finished request writes one wake-up
byte (NUL) to the pipe's file descriptor *number*; once closed, that number is free and the
next file the app opens (the audit trail, a patient's temporary file) gets it, and the NUL lands
in that file. Here the pipe stays open until the process exits, so its number is never reused.

And a worker whose master has died (kill -9) closes its listening socket at once and gets
SIGTERM from the kernel (``PR_SET_PDEATHSIG``) instead of noticing a second later, so a
restarted server can bind the port while the orphan finishes its last requests.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

__all__ = ["SafeThreadWorker", "serve"]

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:  # pragma: no cover - no libc to ask: the worker still notices within a second
        pass


class SafeThreadWorker(ThreadWorker):
    """gunicorn's thread worker whose wake-up pipe outlives its request threads."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Closed only when the process exits: a late wake-up byte goes to the pipe, never into a reused fd.
        self.method_queue.close = lambda: None  # type: ignore[method-assign]

    def init_process(self) -> None:
        _die_with_parent()
        if os.getppid() != self.ppid:  # the master died before the kernel was asked to tell us
            sys.exit(0)
        super().init_process()

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and (not self.alive or os.getppid() != self.ppid):
            # Shutting down: let go of the port now, not after the last request (the master keeps its own copy).
            for listener in self.sockets:
                listener.close()


def serve(app: Any, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Run ``app`` (or, when None, ``create_app()`` in each worker) under gunicorn."""

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", SafeThreadWorker)
            self.cfg.set("accesslog", None)  # URLs carry no patient data, but keep logs lean

        def load(self):
            if app is not None:
                return app
            from . import create_app

            return create_app()

    Server().run()
