"""Linear attention: S_t = S_{t-1} + v_t k_t^T, o_t = S_t (scale q_t)."""
