"""DynVFI collect."""
