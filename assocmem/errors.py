"""Re-export of the user-facing error type (defined in ``impl.numerics.errors`` so that impl never imports the glue)."""

from impl.numerics.errors import InputError, require_finite, require_positive_int

__all__ = ["InputError", "require_positive_int", "require_finite"]
