"""App glue: responses, sample data and wiring that belong to this app, not to the library."""
