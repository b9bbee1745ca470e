"""
Flask integration.
"""
