"""Who gets in and who may act: the gate, users and tokens, sessions, OAuth, roles."""
