"""
FastAPI integration.
"""
