"""A child process's messages, read without hanging: the audience uses a second core for
parsing large imports and for resolving large audiences."""

from __future__ import annotations

import queue as queues
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any


def next_message(queue: Queue[tuple[str, Any]], process: BaseProcess,
                 on_death: Callable[[int | None], Exception]) -> tuple[str, Any]:
    """The child's next (kind, payload); `on_death(exit code)` is raised instead of
    waiting forever if it died (killed, out of memory) without a word."""
    while True:
        try:
            return queue.get(timeout=0.5)
        except queues.Empty:
            if process.is_alive():
                continue
        try:  # it may have exited just after its last put: that message is still in the pipe
            return queue.get(timeout=2)
        except queues.Empty:
            raise on_death(process.exitcode) from None


def stop(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
    process.join(timeout=10)
