"""Kaleidoscope's workflow side: the command line (and, with Hera, the Argo workflow builder)."""
