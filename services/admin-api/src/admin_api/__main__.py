"""Run the Admin API: ``python -m admin_api`` or ``admin-api``."""

from __future__ import annotations

import uvicorn

from admin_api.settings import Settings


def main() -> None:
    settings = Settings()
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
