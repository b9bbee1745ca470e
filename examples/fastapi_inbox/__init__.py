"""
The seed's inbox API on FastAPI + asyncpg, with wa_perfkit. See README.md.
"""
