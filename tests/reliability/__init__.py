"""Misbehaving clients, processes and operators against the real server (run alone with -m reliability)."""
