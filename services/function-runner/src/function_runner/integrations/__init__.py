"""Third-party integration functions (seed 003's registry table), one module per plugin.

Every public module registers its functions with ``@builtin``;
:func:`function_runner.builtins.base.load_builtins` imports them all. Each calls the
vendor's real HTTP API (base URL overridable per plugin with
``FUNCTION_RUNNER_INTEGRATION_BASE_URLS``) with the credentials resolved for its
``integration_type``; :mod:`._common` holds the shared call and error mapping.
"""
