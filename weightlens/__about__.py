__version__ = "0.1.0"

DISTRIBUTION = "weightlens-health"
"""The distribution (package-index) name; the import package and the command are ``weightlens``.
The name ``weightlens`` on the public index belongs to an unrelated project."""
