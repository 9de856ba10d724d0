"""Turning a case into numbers: the physics model built from a case, solved at parameter points
(forms compiled once, re-meshing only for geometric parameters), and the results written as
summary.json, ParaView fields and pictures."""
