"""Run the Function Runner: ``python -m function_runner`` or ``function-runner``.

``function-runner reencrypt-credentials`` re-encrypts every stored credential with the
active key (after adding a new key to ``FUNCTION_RUNNER_CREDENTIAL_KEYS``) and exits.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from function_runner.settings import Settings


async def reencrypt_credentials(settings: Settings) -> int:
    from function_runner.app import MIGRATIONS
    from function_runner.credentials.keys import load_keyring
    from function_runner.credentials.service import CredentialStore
    from service_kit.db import create_engine, session_factory, upgrade_database_async

    url = settings.resolved_database_url()
    await upgrade_database_async(MIGRATIONS, url)
    engine = create_engine(url)
    try:
        store = CredentialStore(await load_keyring(settings, None))
        async with session_factory(engine)() as session, session.begin():
            return await store.reencrypt(session)
    finally:
        await engine.dispose()


def main() -> None:
    settings = Settings()
    if sys.argv[1:] == ["reencrypt-credentials"]:
        changed = asyncio.run(reencrypt_credentials(settings))
        sys.stdout.write(f"re-encrypted {changed} credential(s)\n")
        return
    if sys.argv[1:]:
        sys.stderr.write("usage: function-runner [reencrypt-credentials]\n")
        raise SystemExit(2)
    uvicorn.run(
        "function_runner.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
