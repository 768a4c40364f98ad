"""A kernel memory's SNR^{-1} by name, through the one driver (the call most kernel tests make)."""

from impl.estimators.snr import estimate_snr
from impl.memories.kernel import kernel_memory


def kernel_snr(kernel, n_pairs, d_k, d_v, trials, seed, *, tau=None, p=None, s=None, m=None, mode="auto", **kw):
    """``estimate_snr`` of ``kernel_memory(kernel, ...)`` with sampler ``mode`` ({convention: SNRResult})."""
    return estimate_snr(kernel_memory(kernel, tau=tau, p=p, s=s, m=m), n_pairs, d_k, d_v, trials, seed, sampler=mode,
                        **kw)
