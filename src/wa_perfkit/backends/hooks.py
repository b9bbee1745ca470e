"""
Optional powers a backend may have beyond the contract of `wa_perfkit.backends.base`.

Each is a small ``runtime_checkable`` Protocol: the `Cache` checks for it
once, at construction or decoration time, never on the hit path.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from wa_perfkit.serialization import Serializer

__all__ = ["Peekable", "SerializerAware"]


@runtime_checkable
class SerializerAware(Protocol):
    """
    A backend that keeps decoded objects and encodes for a remote tier itself.

    The `Cache` hands it its serializer and namespace once, when built on it,
    and then treats it as an object backend (``stores_objects = True``): a
    value crosses the cache undecoded, so an in-process hit costs no decode.
    """

    def bind(self, namespace: str, serializer: Serializer) -> None:
        """
        Encode with ``serializer``; expect keys of ``namespace``.

        Raises:
            ConfigurationError: another cache bound an incompatible serializer.
        """


@runtime_checkable
class Peekable(Protocol):
    """
    A backend with a non-blocking in-process first tier (an async hit needs no await).
    """

    def peek(self, key: str) -> Any:
        """
        Return the in-process value under ``key``, or `MISS`; never does I/O.
        """
