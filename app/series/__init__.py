"""The /explore charts: what a chart asks for, its SQL, its frames, the assembled series."""
