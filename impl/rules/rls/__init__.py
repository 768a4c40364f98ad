"""Recursive least squares (MesaNet without gates): the exact ridge-regression memory after every token."""
