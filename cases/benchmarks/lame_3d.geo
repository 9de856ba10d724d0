// Lamé's thick cylinder in 3D (metres): a quarter of the ring 0.1 <= r <= 0.2, 20 mm thick.
SetFactory("OpenCASCADE");
Cylinder(1) = {0, 0, 0, 0, 0, 0.02, 0.2, Pi / 2};
Cylinder(2) = {0, 0, 0, 0, 0, 0.02, 0.1, Pi / 2};
BooleanDifference(3) = {Volume{1}; Delete;}{Volume{2}; Delete;};
Mesh.ElementOrder = 2;  // curved cells: the bore is a cylinder, not a polygon
e = 1e-6;
Physical Volume("ring") = {3};
Physical Surface("x0") = Surface In BoundingBox{-e, -1, -1, e, 1, 1};
Physical Surface("y0") = Surface In BoundingBox{-1, -e, -1, 1, e, 1};
Physical Surface("z0") = Surface In BoundingBox{-1, -1, -e, 1, 1, e};
Physical Surface("z1") = Surface In BoundingBox{-1, -1, 0.02 - e, 1, 1, 0.02 + e};
Physical Surface("inner") = Surface In BoundingBox{-e, -e, -e, 0.1 + e, 0.1 + e, 0.02 + e};
