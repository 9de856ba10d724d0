// 2D heat-sink cross-section (metres): a copper spreader (8 mm) with three aluminium fins.
// Physical names are what the case file refers to: cells "spreader", "fins";
// facets "heated" (bottom of the spreader) and "air" (every surface in contact with air).
SetFactory("OpenCASCADE");
w = 0.06; tb = 0.008; hf = 0.03; tf = 0.004;
Rectangle(1) = {0, 0, 0, w, tb};
Rectangle(2) = {0.006, tb, 0, tf, hf};
Rectangle(3) = {0.028, tb, 0, tf, hf};
Rectangle(4) = {0.050, tb, 0, tf, hf};
BooleanFragments{ Surface{1}; Delete; }{ Surface{2, 3, 4}; Delete; }
Physical Surface("spreader") = {1};
Physical Surface("fins") = {2, 3, 4};
heated() = Curve In BoundingBox{-1e-6, -1e-6, -1e-6, w + 1e-6, 1e-6, 1e-6};
all() = Abs(CombinedBoundary{ Surface{1, 2, 3, 4}; });
Physical Curve("heated") = heated();
Physical Curve("air") = all();
Physical Curve("air") -= heated();
Mesh.CharacteristicLengthMax = 0.002;
