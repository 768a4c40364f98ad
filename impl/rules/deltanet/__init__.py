"""DeltaNet: S_t = S_{t-1}(I - b_t k_t k_t^T) + b_t v_t k_t^T, o_t = S_t (scale q_t)."""
