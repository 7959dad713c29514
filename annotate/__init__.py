"""DynVFI annotate."""
