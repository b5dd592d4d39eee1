"""Écoute services: inbox (platform edge) and triage (agents desk), plus shared infrastructure."""
