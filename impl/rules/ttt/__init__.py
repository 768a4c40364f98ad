"""TTT-linear / Titans: gradient descent with momentum and weight decay on the delta-rule loss."""
