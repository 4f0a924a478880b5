"""Run the Function Runner: ``python -m function_runner`` or ``function-runner``."""

from __future__ import annotations

import uvicorn

from function_runner.settings import Settings


def main() -> None:
    settings = Settings()
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
