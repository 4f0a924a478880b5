"""Run the Workflow Orchestrator: ``python -m orchestrator`` or ``orchestrator``."""

from __future__ import annotations

import uvicorn

from orchestrator.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "orchestrator.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
