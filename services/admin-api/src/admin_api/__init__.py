"""Admin API: Users, auth, the tenant hierarchy, roles, workflow versions, deploy lifecycle, audit."""

__version__ = "0.1.0"
