"""XPCS/XSVS science: importable in a plain notebook, with no server running."""
