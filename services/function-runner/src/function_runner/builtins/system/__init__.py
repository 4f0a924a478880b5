"""The ``system/*`` builtins; :func:`function_runner.builtins.base.load_builtins` imports
every module of this package."""
