"""Checks of command-line input, made before anything runs or is written.

Every refusal is an ``InputError`` naming the flag and what is allowed; the CLI prints it as one line and exits
with status 2. The argparse ``type=`` helpers here turn a bad value into the same one line (argparse prefixes the
flag). Checks that need the outside world (free memory, a Dask scheduler, a writable folder) are made up front,
so that a run that cannot finish is refused in seconds and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from impl.numerics.errors import InputError

SEED_MAX = 2**32 - 1  # every --seed: numpy, torch and the per-point seed derivation all accept this range
JOBS_MAX = 512
SCHEDULER_TIMEOUT_S = 3.0


# --------------------------------------------------------------------------------------------- argparse types ---
def int_in(lo: int, hi: int | None = None, *, also: tuple[int, ...] = (), what: str = ""):
    """An argparse type: an integer in [lo, hi] (or one of ``also``)."""
    rng = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
    if also:
        rng = " or ".join([*(str(a) for a in also), rng])
    rng += f" ({what})" if what else ""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rng}, got {text!r}") from None
        if v in also or (v >= lo and (hi is None or v <= hi)):
            return v
        raise argparse.ArgumentTypeError(f"must be {rng}, got {v}")

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def float_in(lo: float, hi: float | None = None, *, open_lo: bool = True, open_hi: bool = True):
    """An argparse type: a finite number in (lo, hi) (brackets as given)."""
    left, right = ("(" if open_lo else "["), (")" if open_hi else "]")
    rng = f"a finite number in {left}{lo:g}, {hi:g}{right}" if hi is not None else f"a finite number {'>' if open_lo else '>='} {lo:g}"

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rng}, got {text!r}") from None
        ok = math.isfinite(v) and (v > lo if open_lo else v >= lo)
        if hi is not None:
            ok = ok and (v < hi if open_hi else v <= hi)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {rng}, got {text}")
        return v

    parse.__name__ = "number"
    return parse


seed = int_in(0, SEED_MAX)
jobs = int_in(1, JOBS_MAX, also=(-1,), what="-1: one worker per core")


# ------------------------------------------------------------------------------------------ memory estimates ---
def _human(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n_bytes < 1024 or unit == "EiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.3g} EiB"  # pragma: no cover


def available_memory(device: str = "cpu") -> int | None:
    """Bytes free for a new allocation on ``device`` (MemAvailable on Linux), or None when unknown."""
    if str(device).startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def snr_bytes(n_pairs: int, d_k: int, d_v: int, itemsize: int = 8) -> int:
    """Memory of one Monte Carlo trial of ``assocmem snr``, the least any estimator needs: the N keys and values,
    the read-outs and residuals (N d_v each), the memory S (d_v x d_k) and as much again for temporaries."""
    return 2 * itemsize * (n_pairs * (d_k + 3 * d_v) + d_k * d_v)


def require_memory(n_bytes: int, flags: str, what: str, device: str = "cpu") -> None:
    """Refuse up front when ``n_bytes`` cannot fit in the memory available on ``device``."""
    free = available_memory(device)
    if free is not None and n_bytes > free:
        raise InputError(flags, f"{what} needs about {_human(n_bytes)}, but only {_human(free)} is available on "
                                f"{device}; use smaller sizes")


# ------------------------------------------------------------------------------------------- Dask scheduler ---
def require_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT_S) -> None:
    """Refuse a Dask scheduler address that is malformed, refuses connections, or does not complete Dask's handshake
    within ``timeout`` seconds (something else listening there, or a network that accepts and never answers)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or parts.port is None:
        raise InputError("--scheduler", f"must look like tcp://HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as e:
        reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__).lower()
        raise InputError("--scheduler", f"no Dask scheduler answers at {address} within {timeout:g} s ({reason})") from None
    try:
        from distributed.comm import connect
    except ImportError:
        return  # the backend check says what to install

    async def handshake():  # Dask's comm handshake, cancelled at the deadline however the other side behaves
        comm = await connect(address, timeout=timeout)
        await comm.close()

    import asyncio

    try:
        asyncio.run(asyncio.wait_for(handshake(), timeout))
    except (OSError, TimeoutError, asyncio.TimeoutError) as e:
        raise InputError("--scheduler", f"no Dask scheduler answers at {address} within {timeout:g} s "
                                        f"({type(e).__name__}: what listens there does not speak Dask)") from None


# ------------------------------------------------------------------------------------------- output folders ---
def require_writable_dir(path: Path, flag: str = "--out") -> None:
    """Refuse a folder that cannot be created or written, without creating anything: the nearest existing
    ancestor must be a writable folder."""
    path = Path(path).absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(flag, f"cannot write to {path}: {probe} is not a folder")
    if not probe.exists() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(flag, f"cannot write to {path}: {probe} is not writable")
    # /proc and similar pseudo file systems claim to be writable; creating the folder is the only real test
    if probe != path:
        try:
            os.makedirs(path)
        except OSError as e:
            raise InputError(flag, f"cannot create {path} ({e.strerror or type(e).__name__})") from None
        else:
            _remove_created(path, probe)


def _remove_created(path: Path, stop: Path) -> None:
    """Remove the empty folders from ``path`` up to (not including) ``stop`` (undo a trial makedirs)."""
    while path != stop:
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent
