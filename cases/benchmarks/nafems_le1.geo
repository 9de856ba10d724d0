// NAFEMS LE1, the elliptic membrane (metres): a quarter between the ellipses
// (x/2)^2 + y^2 = 1 (inner) and (x/3.25)^2 + (y/2.75)^2 = 1 (outer). D = (2, 0).
Point(1) = {0, 0, 0};
Point(2) = {2, 0, 0};
Point(3) = {3.25, 0, 0};
Point(4) = {0, 2.75, 0};
Point(5) = {0, 1, 0};
Ellipse(1) = {2, 1, 2, 5};
Ellipse(2) = {3, 1, 3, 4};
Line(3) = {2, 3};
Line(4) = {4, 5};
Curve Loop(1) = {3, 2, 4, -1};
Plane Surface(1) = {1};
Physical Curve("inner") = {1};
Physical Curve("outer") = {2};
Physical Curve("bottom") = {3};
Physical Curve("left") = {4};
Physical Surface("membrane") = {1};
