"""Multi-host runs: the roles' compose files, workers across network namespaces, the documented commands per host."""
