"""ikou (移行): migrate Japanese municipal core-system data into the standard layout."""

__version__ = "0.1.0"
