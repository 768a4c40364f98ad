"""Longhorn / implicit (proximal) delta rule: the delta rule with learning rate b / (1 + b ||k||^2)."""
