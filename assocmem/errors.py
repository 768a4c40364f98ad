"""Re-export of the user-facing error type (defined in ``impl.errors`` so that impl never imports the glue)."""

from impl.errors import InputError, require_positive_int, require_finite

__all__ = ["InputError", "require_positive_int", "require_finite"]
