"""What every service of the platform shares, and nothing more.

Settings, JSON logging with request/execution context, RFC 9457 problem responses,
Prometheus metrics, OpenTelemetry tracing, health/readiness, database plumbing.
Services import this; it never imports a service.
"""

from service_kit.app import build_app
from service_kit.settings import ServiceSettings

__all__ = ["ServiceSettings", "build_app"]
