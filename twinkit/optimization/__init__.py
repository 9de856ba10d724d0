"""Design optimisation on the surrogate: the design space and goals, Optuna studies (SQLite or
PostgreSQL) and their samplers, FE verification of the designs found, and the FE search
(Bayesian optimisation on FE solves)."""
