"""The strategy host: loads the configured strategy, puts the risk manager between it and the
order manager, gives both the engine's trading view, and says what they are doing."""
