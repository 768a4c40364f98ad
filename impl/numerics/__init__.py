"""Numerical plumbing: triangular solves, chunking, device and dtype resolution, the input-error type."""
