"""One module per registered protocol; each calls ``analysis.registry.register``."""
