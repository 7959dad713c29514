"""DynVFI core."""
