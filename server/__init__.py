"""The prime server of GIL Lab: the seed lesson's threaded TCP "nth prime" service, made observable.
`python -m server --help` lists the flags; docs/protocol.md has the protocol.
"""
