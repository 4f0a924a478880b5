"""Where the credential encryption keys come from: settings, else the secret store, else
(embedded mode only) a key file generated under the data dir."""

from __future__ import annotations

import logging

from function_runner.credentials.crypto import Keyring, KeyringError, local_keyfile
from function_runner.credentials.secretstore import SecretStore
from function_runner.settings import Settings

_log = logging.getLogger(__name__)


async def load_keyring(settings: Settings, store: SecretStore | None) -> Keyring | None:
    encoded = dict(settings.credential_keys)
    if not encoded and store is not None:
        encoded = await store.get(settings.credential_keys_secret) or {}
    if not encoded and settings.is_embedded:
        encoded = local_keyfile(settings.data_dir)
    if not encoded:
        _log.warning("no credential encryption keys: the encrypted credential store is off")
        return None
    try:
        return Keyring.from_encoded(encoded, settings.credential_active_key_id)
    except KeyringError:
        _log.exception("credential encryption keys are invalid")
        raise
