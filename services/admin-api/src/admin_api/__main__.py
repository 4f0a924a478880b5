"""Run the Admin API: ``python -m admin_api`` or ``admin-api``.

``admin-api rotate-signing-key`` replaces the embedded-mode signing key file with a new
key; on the next start the new key signs and the old one stays in the JWKS for
``ADMIN_API_RETIRED_KEY_GRACE_S``.
"""

from __future__ import annotations

import sys

import uvicorn

from admin_api.auth.keys import rotate_key_file
from admin_api.settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = Settings()
    if args[:1] == ["rotate-signing-key"]:
        if settings.jwt_private_key is not None:
            raise SystemExit(
                "the signing key comes from ADMIN_API_JWT_PRIVATE_KEY: rotate it there"
            )
        key = rotate_key_file(settings)
        sys.stdout.write(f"new signing key {key.kid} written to {settings.signing_key_path()}\n")
        return
    if args:
        raise SystemExit(f"unknown command {args[0]!r}; known: rotate-signing-key")
    uvicorn.run(
        "admin_api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
