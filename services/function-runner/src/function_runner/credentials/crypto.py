"""AES-256-GCM encryption of stored credentials with key ids, for rotation.

Each row stores the id of the key it was encrypted with, a random 96-bit nonce and the
ciphertext (with tag). The associated data binds a ciphertext to its tenant and credential
id, so a row copied to another tenant or id does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_log = logging.getLogger(__name__)


class KeyringError(ValueError):
    """Keys are missing or malformed (the message names the key id, never key bytes)."""


class DecryptionError(Exception):
    """A credential did not decrypt: wrong key, tampered row, or moved to another tenant."""


def associated_data(tenant_id: str, credential_id: str) -> bytes:
    return f"wfb-credential\x00{tenant_id}\x00{credential_id}".encode()


@dataclass(frozen=True)
class Keyring:
    keys: Mapping[str, bytes]
    active_key_id: str

    @classmethod
    def from_encoded(cls, encoded: Mapping[str, str], active: str | None = None) -> Keyring:
        keys: dict[str, bytes] = {}
        for key_id, value in encoded.items():
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"credential key {key_id!r} is not base64") from None
            if len(raw) != 32:
                raise KeyringError(f"credential key {key_id!r} must be 32 bytes (AES-256)")
            keys[key_id] = raw
        if not keys:
            raise KeyringError("no credential keys configured")
        active_id = active or max(keys)
        if active_id not in keys:
            raise KeyringError(f"active credential key {active_id!r} is not among the keys")
        return cls(keys=keys, active_key_id=active_id)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes, bytes]:
        nonce = os.urandom(12)
        ciphertext = AESGCM(self.keys[self.active_key_id]).encrypt(nonce, plaintext, aad)
        return self.active_key_id, nonce, ciphertext

    def decrypt(self, key_id: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"credential key {key_id!r} is no longer configured")
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptionError("credential does not decrypt (tampered or misplaced)") from None


def generate_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


def local_keyfile(data_dir: Path) -> dict[str, str]:
    """Embedded mode only: a key file under the data dir, created (0600) on first use."""
    path = data_dir / "function-runner-credential-keys.json"
    if path.exists():
        loaded = json.loads(path.read_text())
        if not isinstance(loaded, dict):
            raise KeyringError(f"{path} must hold a JSON object key id -> base64 key")
        return {str(k): str(v) for k, v in loaded.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = {"local-1": generate_key()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle)
    _log.info("generated a local credential encryption key", extra={"path": str(path)})
    return keys
