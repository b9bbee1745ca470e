"""
wa_perfkit: fast, safe caching for WhatsApp Business inbox backends.
"""

from wa_perfkit._version import __version__

__all__ = ["__version__"]
