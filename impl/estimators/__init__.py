"""Monte Carlo SNR estimators, exact kernel moments, calibrated intervals and seeded sampling."""
