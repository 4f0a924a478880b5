"""Builtin functions: the framework (:mod:`.base`) and the ``system/*`` handlers."""
