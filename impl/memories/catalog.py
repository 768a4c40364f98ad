"""Every memory with an SNR interface, by the name the command line gives it (``assocmem snr --memory``).

    make("linear")                                  LinearMemory          (impl.memories.linear)
    make("kernel", kernel=..., tau=, p=, s=, m=)    KernelMemory / PerformerMemory (impl.memories.kernel)
    make("ffn", activation=...)                     FFNMemory             (impl.memories.ffn)
"""

from __future__ import annotations

from impl.memories.ffn import FFNMemory
from impl.memories.kernel import kernel_memory
from impl.memories.linear import LinearMemory
from impl.memories.memory import Memory
from impl.numerics.errors import InputError

BUILDERS = {
    "linear": lambda: LinearMemory(),
    "kernel": lambda kernel, tau=None, p=None, s=None, m=None: kernel_memory(kernel, tau=tau, p=p, s=s, m=m),
    "ffn": lambda activation: FFNMemory(activation),
}


def make(kind: str, **params) -> Memory:
    """The memory ``kind`` with its parameters (those that are None are left out)."""
    if kind not in BUILDERS:
        raise InputError("memory", f"must be one of {', '.join(BUILDERS)}, got {kind!r}")
    return BUILDERS[kind](**{k: v for k, v in params.items() if v is not None})
