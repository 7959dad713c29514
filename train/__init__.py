"""DynVFI train."""
