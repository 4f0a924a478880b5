"""The durable dynamic interpreter: one Dapr workflow that runs any definition.

``state`` is the pure graph state machine (no Dapr), ``workflow`` drives it from the
Dapr workflow function, ``activities`` hold every side effect, ``contracts`` are the
pydantic models passed between them.
"""
