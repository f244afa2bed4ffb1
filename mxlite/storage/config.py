"""Pool settings read from the environment, validated once when a device's pool is made
(and the CPU's heap setting, ``MXLITE_CPU_HEAP_KEEP_MB``, when the first CPU backend is).

The names follow MXNet's ``MXNET_<DEV>_MEM_POOL_*`` with an ``MXLITE_`` prefix; ``<DEV>``
is ``GPU`` or ``CPU``. A bad value raises :class:`PoolConfigError` naming the variable.
"""
import os
from dataclasses import dataclass

__all__ = ["PoolConfig", "PoolConfigError", "POOL_TYPES", "DEFAULT_POOL_TYPE",
           "config_from_env", "heap_keep_from_env", "HEAP_KEEP_ENV", "DEFAULT_HEAP_KEEP_MB"]

POOL_TYPES = ("Naive", "Round", "BestFit", "Unpooled")
# BestFit is the default: see bench/README.md ("Memory pool") for the measurements behind the choice.
DEFAULT_POOL_TYPE = "BestFit"


class PoolConfigError(ValueError):
    """An ``MXLITE_*_MEM_*`` environment variable holds a value the pool cannot use.

    ``setting`` names the PoolConfig field at fault, so the message can name the
    environment variable it came from.
    """

    def __init__(self, message, setting=None):
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class PoolConfig:
    """How one device's pool rounds, caches and limits its blocks.

    ``limit`` is bytes (int), a fraction of device memory (float in (0, 1]), or None.
    """

    pool_type: str = DEFAULT_POOL_TYPE
    page_size: int = 4096
    large_alloc_round_size: int = 2 << 20
    round_linear_cutoff: int = 24
    reserve_percent: float = 5.0
    limit: object = None

    def __post_init__(self):
        if self.pool_type not in POOL_TYPES:
            raise PoolConfigError(f"unknown pool type {self.pool_type!r}; "
                                  f"use one of {', '.join(POOL_TYPES)}", "pool_type")
        if self.page_size < 32:
            raise PoolConfigError(f"page size must be >= 32 bytes, got {self.page_size}",
                                  "page_size")
        if self.pool_type == "Round" and not _is_power_of_two(self.page_size):
            raise PoolConfigError(f"the Round pool needs a power-of-two page size, "
                                  f"got {self.page_size}", "page_size")
        if not 20 <= self.round_linear_cutoff <= 34:
            raise PoolConfigError(f"round linear cutoff must be in 20..34, "
                                  f"got {self.round_linear_cutoff}", "round_linear_cutoff")
        if not 0 <= self.reserve_percent < 100:
            raise PoolConfigError(f"reserve must be a percentage in [0, 100), "
                                  f"got {self.reserve_percent}", "reserve_percent")

    def limit_bytes(self, total_bytes):
        """The byte limit for a device with ``total_bytes`` of memory, or None."""
        if isinstance(self.limit, float):
            return int(self.limit * total_bytes)
        return self.limit

    def describe(self):
        """One line for ``mxlite info`` and memory summaries."""
        parts = [self.pool_type]
        if self.pool_type in ("Naive", "Round"):
            parts.append(f"page {self.page_size} B")
        if self.pool_type == "Naive":
            parts.append(f"large-alloc rounding {self.large_alloc_round_size} B")
        if self.pool_type == "Round":
            parts.append(f"linear cutoff 2^{self.round_linear_cutoff} B")
        parts.append(f"reserve {self.reserve_percent:g}%")
        if self.limit is None:
            parts.append("no limit")
        elif isinstance(self.limit, float):
            parts.append(f"limit {self.limit * 100:g}% of device memory")
        else:
            parts.append(f"limit {self.limit} B")
        return ", ".join(parts)


def _is_power_of_two(n):
    return n > 0 and n & (n - 1) == 0


def config_from_env(device_type, environ=None):
    """The :class:`PoolConfig` for ``'gpu'`` or ``'cpu'`` devices from ``environ``."""
    env = os.environ if environ is None else environ
    prefix = f"MXLITE_{device_type.upper()}_MEM_"
    variables = {"pool_type": prefix + "POOL_TYPE", "page_size": prefix + "POOL_PAGE_SIZE",
                 "large_alloc_round_size": prefix + "LARGE_ALLOC_ROUND_SIZE",
                 "round_linear_cutoff": prefix + "POOL_ROUND_LINEAR_CUTOFF",
                 "reserve_percent": prefix + "POOL_RESERVE", "limit": prefix + "LIMIT"}
    values = {}
    for field, name in variables.items():
        text = env.get(name, "").strip()
        if not text:
            continue
        if field == "pool_type":
            by_lower = {t.lower(): t for t in POOL_TYPES}
            if text.lower() not in by_lower:
                raise PoolConfigError(f"{name}={text!r} is not a pool type; "
                                      f"use one of {', '.join(POOL_TYPES)}", field)
            values[field] = by_lower[text.lower()]
        elif field == "reserve_percent":
            try:
                values[field] = float(text)
            except ValueError:
                raise PoolConfigError(f"{name}={text!r} is not a number; "
                                      f"give a percentage such as 5", field) from None
        elif field == "limit":
            values[field] = parse_limit(text, name)
        else:
            values[field] = _parse_int(name, text)
    try:
        return PoolConfig(**values)
    except PoolConfigError as err:
        name = variables.get(err.setting, prefix + "*")
        shown = f"={env[name]!r}" if name in env else " (default)"
        raise PoolConfigError(f"{name}{shown}: {err}", err.setting) from None


HEAP_KEEP_ENV = "MXLITE_CPU_HEAP_KEEP_MB"
# How much freed memory at the top of glibc's heap stays mapped for reuse (host.keep_freed_heap)
DEFAULT_HEAP_KEEP_MB = 256


def heap_keep_from_env(environ=None):
    """Bytes of freed heap to keep mapped, from ``MXLITE_CPU_HEAP_KEEP_MB`` (default 256 MiB;
    0 leaves glibc's malloc settings alone)."""
    env = os.environ if environ is None else environ
    text = env.get(HEAP_KEEP_ENV, "").strip()
    megabytes = _parse_int(HEAP_KEEP_ENV, text) if text else DEFAULT_HEAP_KEEP_MB
    if megabytes < 0:
        raise PoolConfigError(f"{HEAP_KEEP_ENV}={text!r} must be >= 0 MiB (0 leaves glibc's "
                              "malloc settings alone)")
    return megabytes << 20


def _parse_int(name, text):
    try:
        return int(text.strip())
    except ValueError:
        raise PoolConfigError(f"{name}={text!r} is not an integer") from None


def parse_limit(text, name="limit"):
    """``'1073741824'`` -> bytes (int); ``'80%'`` -> fraction of device memory (float)."""
    text = str(text).strip()
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            percent = -1.0
        if not 0 < percent <= 100:
            raise PoolConfigError(f"{name}={text!r}: a percentage must be in (0, 100]")
        return percent / 100.0
    try:
        nbytes = int(text)
    except ValueError:
        raise PoolConfigError(f"{name}={text!r} is neither a byte count nor a "
                              f"percentage such as '80%'") from None
    if nbytes <= 0:
        raise PoolConfigError(f"{name}={text!r}: the limit must be positive")
    return nbytes
