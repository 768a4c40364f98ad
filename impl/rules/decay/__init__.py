"""Decaying linear attention: RetNet (constant scalar gate), Mamba2 (data-dependent scalar gate), GLA (data-dependent
gate per key channel). S_t = S_{t-1} diag(a_t) + v_t k_t^T, o_t = S_t (scale q_t)."""
