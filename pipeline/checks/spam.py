"""A variant's SpamAssassin score, when `spamassassin` is installed (Debian's package):
local tests only (`-L`, no network lookups), as the email tests score the examples."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import NamedTuple

SPAMASSASSIN = "spamassassin"
TIMEOUT_S = 120.0  # one message; its rules load in ~5-10 s on a small machine
_STATUS = re.compile(rb"X-Spam-Status: \w+, score=(-?[\d.]+)")
_DETAILS = re.compile(rb"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", re.MULTILINE)


class SpamScore(NamedTuple):
    score: float | None  # None: not scored (see why)
    why: str  # the rules that scored, or why there is no score
    timed_out: bool = False  # stopped after `timeout`


def installed() -> bool:
    return shutil.which(SPAMASSASSIN) is not None


def spam_score(message: bytes, timeout: float = TIMEOUT_S) -> SpamScore:
    if not installed():
        return SpamScore(None, "spamassassin is not installed")
    try:
        result = subprocess.run([SPAMASSASSIN, "-L", "-t"], input=message,
                                capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return SpamScore(None, f"spamassassin took over {timeout:g} s", timed_out=True)
    except OSError as e:
        return SpamScore(None, f"cannot run spamassassin: {e.strerror}")
    return parse_report(result.stdout) or SpamScore(
        None, "spamassassin gave no score: " + result.stderr.decode(errors="replace")[-200:])


def parse_report(output: bytes) -> SpamScore | None:
    """The score and the rules that made it, from `spamassassin -t`'s output."""
    status = _STATUS.search(output)
    if status is None:
        return None
    details = output.split(b"Content analysis details", 1)[-1]
    rules = [f"{name.decode()} {float(points):+g}" for points, name in _DETAILS.findall(details)
             if float(points) != 0]
    return SpamScore(float(status.group(1)), ", ".join(rules))
