"""assocmem: executable checks of 'Understanding Transformer from the Perspective of Associative Memory'."""

__version__ = "0.1.0"
