"""Where each claim is stated, how hard each of its points is, and what carries its declared level in the far tail.

Kept beside the registry rather than in ``registry.Claim`` (a glue module that every cached result and evidence
record is fingerprinted by): declaring a region re-fingerprints only the claims that declare one, the calibration
and the nightly job. A claim module declares, next to its registration, with ``declare(claim_id, ...)``:

* ``region(params)``: None where the claim is stated, the reason where it is not. Its strategy draws only inside;
  the nightly regression table (``assocmem.nightly``) records points found outside with that reason.
* ``heaviness(params)``: ranks the strategy's points for calibration (larger: a harder test of the interval:
  smaller samples, heavier tails); the calibration's worst corner is the heaviest point the strategy draws.
* ``tail``: the argument that carries the declared level alpha in the far tail, where no seed count reaches.

Claims that declare nothing are stated wherever their strategy draws, calibrated at their smallest samples, and
have their far-tail argument read from the interval their check declares (``assocmem.calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Declared:
    region: Callable[[Params], str | None] | None = None
    heaviness: Callable[[Params], float] | None = None
    tail: str = ""


_DECLARED: dict[str, Declared] = {}


def declare(claim_id: str, *, region=None, heaviness=None, tail: str = "") -> None:
    if claim_id in _DECLARED:
        raise ValueError(f"claim {claim_id!r}: region declared twice")
    _DECLARED[claim_id] = Declared(region, heaviness, tail)


def declared(claim_id: str) -> Declared:
    """The claim's declaration (an empty one where it declared nothing)."""
    from assocmem import registry

    registry.claims()  # claim modules declare on import
    return _DECLARED.get(claim_id, Declared())


def outside_region(claim_id: str, params: Params) -> str | None:
    """Why ``params`` lie outside the region where the claim is stated (None: inside, or no region declared)."""
    d = declared(claim_id)
    return None if d.region is None else d.region(params)
