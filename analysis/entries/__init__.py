"""One module per registered protocol; each calls ``analysis.entry.register``."""
