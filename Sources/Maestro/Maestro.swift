// Maestro: the application toolkit.
