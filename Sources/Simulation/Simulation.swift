// Simulation: virtual clock, simulated network, property checker.
