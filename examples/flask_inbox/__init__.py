"""
The seed's core inbox routes on Flask + psycopg (sync), with wa_perfkit. See README.md.
"""
