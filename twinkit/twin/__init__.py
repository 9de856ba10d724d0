"""The twin fitted to the plant: batch calibration of latent parameters against recorded sensor
data, the live twin (sequential calibration, alerts) and the simulated plant it is tested on."""
