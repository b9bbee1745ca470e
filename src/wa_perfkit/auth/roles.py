"""
Role checks: what roles a user has, and whether they satisfy a requirement.

Roles are read from the cached user object on every request (a set lookup,
no I/O), so a role change takes effect as soon as `CachedUser.invalidate_user`
drops the user's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from wa_perfkit.errors import Forbidden

__all__ = ["RolesOf", "check_roles", "default_roles"]

U = TypeVar("U")
RolesOf = Callable[[U], Iterable[str]]


def default_roles(user: Any) -> Iterable[str]:
    """
    Return ``user.roles``, or ``user["roles"]`` for a mapping, or no roles.

    Args:
        user: what the loader returned.

    Returns:
        The user's roles (a single string counts as one role).
    """
    roles = user.get("roles") if isinstance(user, Mapping) else getattr(user, "roles", None)
    if roles is None:
        return ()
    return (roles,) if isinstance(roles, str) else roles


def check_roles(have: Iterable[str], required: tuple[str, ...], *, any_of: bool = False) -> None:
    """
    Raise `Forbidden` unless ``have`` holds all of ``required`` (or one, with ``any_of``).

    Args:
        have: the user's roles.
        required: the roles the route requires; empty means no requirement.
        any_of: one of ``required`` is enough.

    Raises:
        Forbidden: the requirement is not met.
    """
    if not required:
        return
    held = set(have)
    ok = not held.isdisjoint(required) if any_of else held.issuperset(required)
    if not ok:
        raise Forbidden(required)
