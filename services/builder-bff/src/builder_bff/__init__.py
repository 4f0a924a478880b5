"""Builder BFF: Serves the visual builder and the API it calls."""

__version__ = "0.1.0"
