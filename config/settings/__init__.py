"""Settings split: base (shared), local (development), test, production.

Every environment variable is read in `config.settings.env`; the other modules only combine values.
"""
