"""Run the Builder BFF: ``python -m builder_bff`` or ``builder-bff``."""

from __future__ import annotations

import uvicorn

from builder_bff.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "builder_bff.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
