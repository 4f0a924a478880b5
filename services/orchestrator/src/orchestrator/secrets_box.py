"""Encryption of credentials passed with a run (``integrations``).

They are kept out of workflow history (which the state store keeps in clear) and stored
here with AES-256-GCM, the instance id as associated data so a ciphertext cannot be
moved to another run. The key comes from settings; in embedded mode one is generated
once under the data dir.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SecretsBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the run-secrets key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:12]

    @classmethod
    def from_setting(cls, value: str | None, data_dir: Path, *, embedded: bool) -> SecretsBox:
        if value:
            return cls(base64.b64decode(value))
        if not embedded:
            raise ValueError(
                "ORCHESTRATOR_SECRETS_KEY is required outside embedded mode "
                "(base64 of 32 random bytes)"
            )
        path = data_dir / "orchestrator-secrets.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        return cls(base64.b64decode(path.read_bytes()))

    def seal(self, instance_id: str, value: Any) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        plaintext = json.dumps(value).encode()
        return nonce, self._aead.encrypt(nonce, plaintext, instance_id.encode())

    def open(self, instance_id: str, nonce: bytes, ciphertext: bytes) -> Any:
        return json.loads(self._aead.decrypt(nonce, ciphertext, instance_id.encode()))
