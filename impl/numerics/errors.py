"""The one error type users see: a bad parameter, named, with its allowed range."""

import numbers


class InputError(ValueError):
    """Bad user input. ``str(err)`` is one line naming the parameter and what is allowed.

    The CLI turns it into ``assocmem: error: <message>`` and exit status 2, with no traceback.
    Lives in ``impl`` (theory and impl import nothing from the glue package); ``assocmem.errors`` re-exports it.
    """

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


def require_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ``InputError`` naming ``name`` if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(name, f"must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise InputError(name, f"must be an integer >= {minimum}, got {value}")
    return value


def require_finite(name: str, x):
    """Raise ``InputError`` if the array or tensor ``x`` holds NaN or infinity; return it unchanged."""
    import numpy as np

    try:
        import torch

        if isinstance(x, torch.Tensor):
            if not bool(torch.isfinite(x).all()):
                raise InputError(name, "must be finite (found NaN or infinity)")
            return x
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    if not np.all(np.isfinite(np.asarray(x))):
        raise InputError(name, "must be finite (found NaN or infinity)")
    return x
