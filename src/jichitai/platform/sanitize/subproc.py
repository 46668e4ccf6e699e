"""Running converters (pdftoppm, LibreOffice) under a timeout and resource limits."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ConverterTimeout(Exception):
    """The converter did not finish in time; it and its children were killed."""


class ConverterFailed(Exception):
    """The converter exited with an error."""


def _limiter(memory_bytes: int | None, file_bytes: int | None, cpu_seconds: int | None) -> Callable[[], None]:
    def apply() -> None:
        if memory_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        if file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        if cpu_seconds is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_bounded(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str],
    memory_bytes: int | None = None,
    file_bytes: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` in its own session; on timeout kill that whole process group."""
    proc = subprocess.Popen(  # noqa: S603 - argv is built by this package, never from input
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limiter(memory_bytes, file_bytes, int(timeout) + 5),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc.pid)
        proc.communicate()
        raise ConverterTimeout(f"{argv[0]} exceeded {timeout:.0f}s") from exc
    finally:
        # LibreOffice's launcher may leave soffice.bin behind in the session we created.
        _kill_group(proc.pid)
    result = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
    if proc.returncode != 0:
        raise ConverterFailed(f"{argv[0]} exited {proc.returncode}: {err[-500:].decode(errors='replace')}")
    return result


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def minimal_env(home: Path) -> dict[str, str]:
    """Environment for converters: a private HOME and TMPDIR, nothing inherited but PATH."""
    return {
        "HOME": str(home),
        "TMPDIR": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
    }
