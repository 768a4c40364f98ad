"""Associative memories: linear (Eq. 1/4), kernel (C5) and FFN (§2.1.2) memories, kernels and feature maps."""
