"""Gated DeltaNet: S_t = a_t S_{t-1}(I - b_t k_t k_t^T) + b_t v_t k_t^T (decay first, then the delta step)."""
