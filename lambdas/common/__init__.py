"""Small pieces every response action shares: step results, AWS clients, observability.

Kept free of pydantic and of Powertools utilities that are slow to import, so that the
functions on the critical path to containment stay cheap to cold-start.
"""
