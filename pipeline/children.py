"""Child processes that do a share of the work on the second core (parsing a large
import, resolving a large audience, sending a share of a send): the generic parts, in
one place. A child hands over chunks through a bounded queue (`put_in_chunks`), the
parent reads them without hanging (`next_message`), and a child never outlives its
parent (`die_with_parent`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import queue as queues
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any, TypeVar

T = TypeVar("T")


def put_in_chunks(items: Iterable[T], queue: Queue[tuple[str, Any]], size: int,
                  convert: Callable[[T], Any] = lambda item: item) -> None:
    """Child side: ("chunk", [converted items]) messages of `size`, then ("end", None).
    (The caller reports an error as ("error", message): only it knows the words.)"""
    chunk: list[Any] = []
    for item in items:
        chunk.append(convert(item))
        if len(chunk) >= size:
            queue.put(("chunk", chunk))
            chunk = []
    if chunk:
        queue.put(("chunk", chunk))
    queue.put(("end", None))


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


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG), so
    a killed command leaves no orphan working behind its restart (a sending child would
    send on alone; a producing one would wait forever on its full queue). Elsewhere the
    callers notice at their next step (sender.Sender.orphaned)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely while sending. A send makes a few dicts
    and strings per recipient, all freed by reference counting, yet each 700 of them set
    off a collection that walks every live object: 40% of the time building payloads.
    What existed before the send is frozen out of those walks; cycles are still
    collected, every 10,000 allocations instead of 700."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
