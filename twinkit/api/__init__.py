"""The Python API behind `import twinkit as tk`: objects a notebook holds (a case, a solve's
result, a sweep, a surrogate, a calibration, an optimisation, a run) and the functions that make
them. The command line is a thin layer over these; each object shows itself as a table with
units in Jupyter, in the units its case file used."""
