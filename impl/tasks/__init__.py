"""State-tracking tasks of the paper's §3 (docs/CLAIMS.md D4, D5) and the small models compared on them.

``run_task(task, model, *, quick, seed, device, progress) -> dict`` trains and evaluates one model;
``TASKS`` and ``MODELS`` name what it accepts.
"""

from impl.tasks.models import MODELS
from impl.tasks.train import TASKS, run_task

__all__ = ["TASKS", "MODELS", "run_task"]
