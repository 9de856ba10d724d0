"""`twinkit run`, the main job: solve, sample, train, calibrate, optimise and verify, each stage
skipped when what it reads is unchanged, and the self-contained report.html."""
