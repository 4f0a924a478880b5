"""Argon2id password hashing."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("a password nobody has; equalises timing for unknown accounts")


def configure(time_cost: int, memory_kib: int) -> None:
    """Set the argon2id cost (defaults: RFC 9106's second recommendation, t=3, 64 MiB).
    Existing hashes keep verifying and are re-hashed at the next sign-in."""
    global _hasher, _DUMMY
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _DUMMY = _hasher.hash("a password nobody has; equalises timing for unknown accounts")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Checks ``password``; with no stored hash it still spends the same time."""
    if stored is None:
        await asyncio.to_thread(_verify, _DUMMY, password)
        return False
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
