"""SIGINT and SIGTERM stop a send cleanly: no new requests, the ones in flight finish
(each is bounded by the backend's timeout), and what was not sent stays pending in the
ledger for the next `insights send`. Ctrl-C a second time stops at once, as a kill
would (exit 130): the requests then in flight are held as unknown by the next run, and
sending children die with this process."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call `stop(signal name)` instead of killing the
    process. `stop` runs in a signal handler: it must only set flags (no locks)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals (a send run by a test's thread)
        return
    asked: list[str] = []

    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if asked and signum == signal.SIGINT:
            # The second Ctrl-C: out now, exactly as a kill (the ledger is made for
            # that); unwinding instead could release the send lock under live threads.
            os.write(2, b"stopped at once; `insights send` resumes\n")
            os._exit(130)
        if not asked:  # os.write: logging is not safe inside a signal handler
            os.write(2, f"{name}: sending nothing more; waiting for the requests in "
                        "flight (Ctrl-C again to stop at once)\n".encode())
        asked.append(name)
        stop(name)

    previous = {s: signal.signal(s, handle) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
