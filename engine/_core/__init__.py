"""Cython hot paths. Imports nothing of `engine`; every module here has a pure-Python
reference implementation elsewhere that the differential tests run side by side."""
