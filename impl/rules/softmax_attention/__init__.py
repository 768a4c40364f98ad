"""Softmax attention as a non-parametric memory: the Nadaraya-Watson estimator over all stored pairs."""
