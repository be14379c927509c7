"""A rare, memory-hungry piece of work done in a child process, so that the long-running process never holds what
it imports.

The weekly digest's chart is the case (issue 18): matplotlib, once imported and drawn with, stays in a process
for good, ~40 MB of it, for one picture a week. `call_apart("scheduler.digest", "render_chart", digest, path)` runs
the function in a fresh interpreter instead: the arguments and the result go through pickle on its standard
input and output; the child's memory is returned to the system when it exits.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the directory holding the `scheduler` package
TIMEOUT_S = 300.0

_CHILD = (
    "import importlib, pickle, sys\n"
    "module, function, args = pickle.load(sys.stdin.buffer)\n"
    "result = getattr(importlib.import_module(module), function)(*args)\n"
    "sys.stdout.buffer.write(pickle.dumps(result))\n"
)


class ApartError(RuntimeError):
    """The child process failed (its error output is in the message)."""


def call_apart(module: str, function: str, *args: Any, timeout: float = TIMEOUT_S) -> Any:
    """`module.function(*args)` run in a child process (this interpreter, this source tree); its result.

    Raises:
        ApartError: the child failed or took longer than `timeout` seconds.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=pickle.dumps((module, function, args)),
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ApartError(f"{module}.{function} in a child process: {exc}") from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace")[-2000:]
        raise ApartError(f"{module}.{function} in a child process exited with {done.returncode}: {err}")
    return pickle.loads(done.stdout)
