"""The function registry: the ``functions`` table, its CRUD API and builtin seeding."""
