"""``POST /execute``: validation, dispatch to the executors, limits, recording."""
