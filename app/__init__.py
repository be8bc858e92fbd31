"""Plataforma MAC: the multi-tenant service that runs the relationship between Centros MAC and their entities."""
