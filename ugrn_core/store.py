"""A bounded in-process store: least recently used entries go first, by count and by bytes.

A server used for a week must not grow until it dies, so every store a page keeps for all
sessions (extracted networks, fitted VAEs, axis scores, pretraining jobs) is bounded. What
is evicted can always be had again — re-read from the disk cache or recomputed — so callers
use ``get`` and fall back to making the value; ``seen`` remembers which keys were made
once, so a page can recompute an evicted entry without asking the user again.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np


def approx_bytes(value: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Memory held by ``value``: arrays, tensors and frames by their buffers, containers and
    objects by their members (each object counted once)."""
    seen = set() if _seen is None else _seen
    if id(value) in seen or _depth > 6:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if type(value).__module__.startswith("torch") and hasattr(value, "element_size"):
        return int(value.element_size() * value.nelement())
    if hasattr(value, "memory_usage") and hasattr(value, "columns"):  # a DataFrame
        return int(value.memory_usage(deep=False).sum())
    if hasattr(value, "state_dict") and callable(value.state_dict):  # an nn.Module
        if _depth:  # a model inside a result is shared with the model cache, not held by the result
            return 0
        return sum(approx_bytes(t, seen, _depth + 1) for t in value.state_dict().values())
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(approx_bytes(k, seen, _depth + 1) + approx_bytes(v, seen, _depth + 1)
                                          for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sys.getsizeof(value) + sum(approx_bytes(v, seen, _depth + 1) for v in value)
    if hasattr(value, "__dict__"):
        return sys.getsizeof(value) + approx_bytes(vars(value), seen, _depth + 1)
    if hasattr(value, "__slots__"):
        return sys.getsizeof(value) + sum(approx_bytes(getattr(value, s, None), seen, _depth + 1)
                                          for s in value.__slots__)
    return sys.getsizeof(value)


def env_bound(name: str, default: float) -> float:
    """A bound from the environment (``UGRN_<NAME>``), else ``default``."""
    raw = os.environ.get(f"UGRN_{name}")
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"UGRN_{name}={raw!r} is not a number; set it to a number or unset it.") from None


class BoundedStore:
    """A thread-safe LRU mapping bounded by ``max_entries`` and ``max_bytes``.

    ``evictable(value)`` says whether an entry may go (e.g. a running job may not); the
    newest entry is always kept, even alone over the byte bound.
    """

    def __init__(self, max_entries: int, max_bytes: float, sizeof: Callable[[Any], int] = approx_bytes,
                 evictable: Callable[[Any], bool] | None = None):
        if max_entries < 1 or max_bytes <= 0:
            raise ValueError("A store needs room for at least one entry (max_entries >= 1, max_bytes > 0).")
        self.max_entries, self.max_bytes = int(max_entries), float(max_bytes)
        self._sizeof, self._evictable = sizeof, evictable or (lambda _: True)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.RLock()
        self._computing: dict[Hashable, threading.Lock] = {}  # per key, while a value is being made
        self.seen: set[Hashable] = set()
        self.evictions = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key][0]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._items.values())

    def __setitem__(self, key: Hashable, value: Any) -> None:
        size = int(self._sizeof(value))
        with self._lock:
            self._items[key] = (value, size)
            self._items.move_to_end(key)
            self.seen.add(key)
            self._evict(keep=key)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, made by ``compute()`` once however many threads (app sessions)
        ask at the same time: the others wait for it and read it. If ``compute`` raises (a
        session stopped mid-way), the next waiter computes instead."""
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            hit = self.get(key)
            if hit is not None:
                return hit
            value = compute()
            self[key] = value
        with self._lock:
            if self._computing.get(key) is gate and not gate.locked():
                del self._computing[key]
        return value

    def values(self) -> list[Any]:
        with self._lock:
            return [v for v, _ in self._items.values()]

    def _evict(self, keep: Hashable) -> None:
        total = sum(size for _, size in self._items.values())
        for k in list(self._items):
            if len(self._items) <= self.max_entries and total <= self.max_bytes:
                break
            if k == keep or not self._evictable(self._items[k][0]):
                continue
            total -= self._items.pop(k)[1]
            self.evictions += 1
