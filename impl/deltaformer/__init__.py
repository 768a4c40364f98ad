"""DeltaFormer (paper §2.2.1, Appendix D; docs/CLAIMS.md D1-D3): the delta rule in a kernel's feature space.

    u_t = v_t - b_t sum_{j<t} kappa1(w_t, k_j) u_j          o_t = sum_{j<=t} kappa2(q_t, k_j) u_j

Forms: ``recurrent`` (ground truth, a loop over t), ``parallel`` (O = A (I + B)^{-1} V), ``chunk`` (blockwise
forward substitution, triangular solves per chunk). ``constructions`` holds the exact D3 constructions.
"""

from impl.deltaformer.chunk import deltaformer_chunk
from impl.deltaformer.parallel import deltaformer_parallel, kernel_matrices, neumann_apply
from impl.deltaformer.recurrent import deltaformer_recurrent

__all__ = ["deltaformer_recurrent", "deltaformer_parallel", "deltaformer_chunk", "kernel_matrices", "neumann_apply"]
