"""The foundation every room stands on: errors, atomic writes, running a process.

Imports only the standard library (and nothing else of aw_tui).
"""
