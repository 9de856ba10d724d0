"""Sensor readings from the plant: units and data-quality rules, recorded files (CSV, Parquet)
and the MQTT connection, all through one validator."""
