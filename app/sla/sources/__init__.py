"""Connectors to the centres' own systems (Novo SGA 1.x/2.x queue databases, ...) and their registry."""
