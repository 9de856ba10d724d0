"""Synthetic data: a case's design of experiments (Sobol, Latin hypercube, adaptive), solved
resumably on local workers or a Dask cluster, stored one durable file per sample and gathered
into the xarray dataset that surrogates train on, with the provenance of the solver code."""
