"""A kernel, FFN or SoLU memory's SNR^{-1} by name, through the one driver (the calls most of their tests make)."""

from impl.estimators.snr import estimate_snr
from impl.memories.ffn import FFNMemory
from impl.memories.kernel import kernel_memory
from impl.memories.solu import SoLUMemory


def kernel_snr(kernel, n_pairs, d_k, d_v, trials, seed, *, tau=None, p=None, s=None, m=None, mode="auto", **kw):
    """``estimate_snr`` of ``kernel_memory(kernel, ...)`` with sampler ``mode`` ({convention: SNRResult})."""
    return estimate_snr(kernel_memory(kernel, tau=tau, p=p, s=s, m=m), n_pairs, d_k, d_v, trials, seed, sampler=mode,
                        **kw)


def ffn_snr(activation_name, n_pairs, d_k, d_v, trials, seed, *, beta=None, glu=False, experts=1, routing="hash",
            mode="auto", **kw):
    """``estimate_snr`` of ``FFNMemory(activation_name, ...)`` with sampler ``mode`` ({convention: SNRResult})."""
    return estimate_snr(FFNMemory(activation_name, beta=beta, glu=glu, experts=experts, routing=routing), n_pairs, d_k,
                        d_v, trials, seed, sampler=mode, **kw)


def solu_snr(n_pairs, d_k, d_v, trials, seed, *, beta=None, energies="per_sample", **kw):
    """``estimate_snr`` of ``SoLUMemory(beta=beta, energies=energies)`` ({convention: SNRResult})."""
    return estimate_snr(SoLUMemory(beta=beta, energies=energies), n_pairs, d_k, d_v, trials, seed, **kw)
