"""A gmsh `.geo` is a program: twinkit refuses the commands that act outside the mesh before gmsh
reads the file (issue 15), and still reads the scripts a mesh needs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twinkit.physics import gmsh_child
from twinkit.physics.domain import MeshError, read_file, region_names
from twinkit.physics.geo_script import ScriptError, check_script

MESHES = Path(__file__).parents[2] / "meshes"
SQUARE = """\
Point(1) = {0, 0, 0, 0.5}; Point(2) = {1, 0, 0, 0.5};
Point(3) = {1, 1, 0, 0.5}; Point(4) = {0, 1, 0, 0.5};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4}; Plane Surface(1) = {1};
Physical Curve("hot") = {4}; Physical Curve("cold") = {2}; Physical Surface("plate") = {1};
"""

# (script line, what the message says); {out} is a file the command would write or read
REFUSED = [
    ('SystemCall "touch {out}";', "'SystemCall' runs a program"),
    ('systemcall "touch {out}";', "runs a program"),  # gmsh is case-sensitive; we are stricter
    ('System "touch {out}";', "runs a program"),
    ('NonBlockingSystemCall "touch {out}";', "runs a program"),
    ('OnelabRun("x", "touch {out}");', "runs a program"),
    ('Save "{out}";', "writes a file"),
    ('Print "{out}";', "writes a file"),
    ('Save View[0] "{out}";', "writes a file"),
    ('Printf("%g", 1) > "{out}";', "Printf ... > file"),
    ('Printf("%g", 1) >> "{out}";', "Printf ... > file"),
    ('CreateDir "{out}";', "creates a folder"),
    ("Plugin(Integrate).Run;", "runs a plugin"),
    ("Exit;", "ends the process"),
    ("Sleep 1e9;", "stalls the process"),
    ('x = GetValue("?", 1);', "waits for input"),
    ('s = GetEnv("HOME");', "reads the environment"),
    ('If (FileExists("/etc/shadow"))\n  x = 1;\nEndIf', "outside"),  # probed other folders
    ("General.SaveOptions = 1;", "sets an option outside Mesh.* and Geometry.*"),
    ('Solver.Executable0 = "/bin/sh";', "sets an option outside"),
    ('Include "/etc/hosts";', "outside"),
    ('Include "../outside.geo";', "outside"),
    ('Merge "../outside.msh";', "outside"),
    ('v() = ShapeFromFile("/etc/hosts");', "outside"),
    ('Include StrCat("/etc", "/hosts");', "not a literal path"),
    ('Macro M\n  SystemCall "touch {out}";\nReturn\nCall M;', "runs a program"),
]


def _script(folder: Path, line: str) -> Path:
    path = folder / "mesh" / "evil.geo"
    path.parent.mkdir(exist_ok=True)
    out = folder / "written-by-gmsh"
    path.write_text(line.format(out=out) + "\n" + SQUARE)
    return path


@pytest.mark.parametrize("line, why", REFUSED, ids=[r[0][:30] for r in REFUSED])
def test_dangerous_commands_are_refused(tmp_path, line, why):
    path = _script(tmp_path, line)
    with pytest.raises(ScriptError, match=r", line [12]: ") as e:
        check_script(path)
    assert why in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("reader", [region_names, read_file])
def test_validate_and_solve_refuse_before_gmsh_runs(tmp_path, reader):
    """What `validate` (region_names) and `solve` (read_file) call: the command never runs."""
    path = _script(tmp_path, 'SystemCall "touch {out}";')
    with pytest.raises(MeshError, match="'SystemCall' runs a program"):
        reader(path)
    assert not (tmp_path / "written-by-gmsh").exists()


def test_included_scripts_are_checked_too(tmp_path):
    (tmp_path / "part.geo").write_text(f'SystemCall "touch {tmp_path / "x"}";\n')
    main = tmp_path / "main.geo"
    main.write_text('Include "part.geo";\n' + SQUARE)
    with pytest.raises(ScriptError, match=r"part\.geo, line 1: 'SystemCall'"):
        check_script(main)
    (tmp_path / "part.geo").write_text("lc = 0.5;\n")
    check_script(main)  # an include inside the folder, holding geometry only, is fine
    assert region_names(main) == {"hot": 1, "cold": 1, "plate": 2}


def test_comments_and_strings_are_not_commands(tmp_path):
    path = tmp_path / "ok.geo"
    path.write_text(
        '// SystemCall "rm -rf /";\n/* Exit; Save "x"; */\nPrintf("Save Exit System");\n'
        "Mesh.CharacteristicLengthMax = 0.5;\nGeometry.Tolerance = 1e-8;\n" + SQUARE
    )
    check_script(path)
    assert region_names(path) == {"hot": 1, "cold": 1, "plate": 2}


def test_shipped_geometry_passes():
    check_script(MESHES / "heatsink.geo")


def test_mesh_size_beyond_the_cell_limit_is_refused_before_meshing(tmp_path):
    path = tmp_path / "square.geo"
    path.write_text(SQUARE)
    with pytest.raises(MeshError, match=r"about 2\.3e\+12 cells.*max_cells"):
        read_file(path, size=1e-6, max_cells=5e6)


# what passes the check still runs in a child process bounded in time and memory
def test_a_crash_in_gmsh_is_a_mesh_error_not_a_crash_of_twinkit(tmp_path):
    path = tmp_path / "crash.geo"
    path.write_text('Printf("%s", 1);\n' + SQUARE)  # gmsh reads the number as a string
    for read in (region_names, read_file):
        with pytest.raises(MeshError, match=r"crash\.geo: gmsh crashed \(SIGSEGV\)"):
            read(path)


def test_a_script_that_runs_too_long_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(gmsh_child, "SCRIPT_SECONDS", 2.0)
    path = tmp_path / "loop.geo"
    path.write_text("For i In {1:1e12}\n  x = i;\nEndFor\n" + SQUARE)
    t0 = time.perf_counter()
    with pytest.raises(MeshError, match=r"loop\.geo: gmsh ran this script for more than 2 s"):
        region_names(path)
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("setting", ["Mesh.MeshSizeFactor = 0.04;", "lc = 0.02;"])
def test_a_mesh_finer_than_the_cell_limit_is_refused_after_meshing(tmp_path, setting):
    """The size check sees the bounding box and the case's size only: point sizes and options in
    the script can ask for more (here ~5,000 triangles at size 0.5 m); the child counts the cells
    after meshing (and its time and memory limits stop a far finer mesh)."""
    path = tmp_path / "fine.geo"
    square = SQUARE.replace(", 0.5}", ", lc}") if setting.startswith("lc") else SQUARE
    path.write_text(setting + "\n" + square)
    with pytest.raises(MeshError, match=r"fine\.geo: its mesh has [\d,]+ cells, more than 1,000"):
        read_file(path, size=0.5, max_cells=1000)
    assert read_file(path, size=0.5, max_cells=1e5).mesh.topology.index_map(2).size_local > 1000


@pytest.mark.parametrize("command", ["Include", "Merge"])
def test_a_script_that_reads_a_fifo_is_refused(tmp_path, command):
    os.mkfifo(tmp_path / "fifo.geo")
    path = tmp_path / "reads.geo"
    path.write_text(f'{command} "fifo.geo";\n' + SQUARE)
    with pytest.raises(ScriptError, match="not a regular file"):
        check_script(path)


def test_the_scripts_save_options_do_not_change_the_mesh_read(tmp_path):
    """The child writes the mesh for the parent to read: an MSH 2.2 format or a scaling factor
    set in the script (which gmsh applies when saving) must not reach it."""
    plain, saved = tmp_path / "plain.geo", tmp_path / "saved.geo"
    plain.write_text(SQUARE)
    saved.write_text("Mesh.MshFileVersion = 2.2;\nMesh.ScalingFactor = 0.001;\n" + SQUARE)
    a, b = (read_file(p, size=0.25, max_cells=1e5).mesh for p in (plain, saved))
    assert a.topology.index_map(2).size_local == b.topology.index_map(2).size_local
    assert b.geometry.x[:, 0].max() == pytest.approx(1.0)


def test_the_child_keeps_within_a_hard_memory_limit_the_shell_set(tmp_path):
    """Under `ulimit -v` below the child's budget (5.8 GiB for 5 million cells), the child
    asked for more than the hard limit and failed: every .geo was refused."""
    geo, out = tmp_path / "square.geo", tmp_path / "regions.json"
    geo.write_text(SQUARE)
    gib = 1024**3
    code = (
        "import resource, subprocess, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({4 * gib}, {4 * gib}))\n"
        f"args = [sys.executable, '-P', {gmsh_child.__file__!r}, 'regions', {str(geo)!r}, "
        f"{str(out)!r}, 'None', 'None', '{6 * gib}']\n"
        "sys.exit(subprocess.run(args).returncode)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == {"hot": 1, "cold": 1, "plate": 2}


@pytest.mark.parametrize("name", ["evil.pos", "evil.msh", "evil.MSH"])
def test_a_merged_file_that_is_no_mesh_is_checked_as_the_script_gmsh_runs(tmp_path, name):
    """gmsh reads a .pos or .msh that does not begin as a mesh or a view as a .geo script: a
    QA pass's Merge "evil.pos" ran its SystemCall. A real mesh merged is read as data."""
    (tmp_path / name).write_text(f'SystemCall "touch {tmp_path / "written-by-gmsh"}";\n')
    path = tmp_path / "merges.geo"
    path.write_text(f'Merge "{name}";\n' + SQUARE)
    with pytest.raises(ScriptError, match=rf"{name}, line 1: 'SystemCall' runs a program"):
        check_script(path)
    (tmp_path / name).write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n" + "Save x;\n")
    check_script(path)  # data: gmsh's mesh reader, not its parser


def test_a_mesh_file_that_is_a_script_is_refused(tmp_path):
    """A case's mesh.file of evil.msh holding a SystemCall ran it in-process (gmsh.open reads a
    file without a mesh header as a .geo)."""
    path = tmp_path / "evil.msh"
    path.write_text(f'SystemCall "touch {tmp_path / "written-by-gmsh"}";\n')
    for reader in (region_names, read_file):
        with pytest.raises(MeshError, match=r"evil\.msh: not a gmsh mesh file"):
            reader(path)
    assert not (tmp_path / "written-by-gmsh").exists()
    gz = tmp_path / "reads.geo"
    gz.write_text('Merge "m.msh.gz";\n' + SQUARE)
    with pytest.raises(ScriptError, match="compressed file"):
        check_script(gz)


@pytest.mark.parametrize(
    ("version", "body"),
    [
        (
            "4.1",
            "$Nodes\n1 1000000000000 1 1000000000000\n2 1 0 1000000000000\n1\n0 0 0\n$EndNodes\n",
        ),
        ("2.2", "$Nodes\n2000000000\n1 0 0 0\n$EndNodes\n"),
    ],
)
def test_a_mesh_file_whose_counts_lie_is_one_clear_error(tmp_path, version, body):
    """Counts far beyond what the file holds: gmsh gives up, at times without a message (the
    error read "gmsh could not read it ()")."""
    path = tmp_path / "lies.msh"
    path.write_text(f"$MeshFormat\n{version} 0 8\n$EndMeshFormat\n" + body)
    for reader in (region_names, read_file):
        with pytest.raises(MeshError, match=r"lies\.msh: gmsh could not read it \(\w") as e:
            reader(path)
        assert "()" not in str(e.value)


def test_any_cell_limit_and_numpy_numbers_reach_the_child(tmp_path):
    """max_cells of 4e10 gave a timeout past poll()'s range (OverflowError, exit 1); NumPy
    numbers for size or max_cells reached the child as 'np.float64(...)' and failed there."""
    import numpy as np

    assert gmsh_child.limits("mesh", 4e10)[0] == gmsh_child.MAX_SECONDS
    path = tmp_path / "square.geo"
    path.write_text(SQUARE)
    m = read_file(path, size=np.float64(0.5), max_cells=np.int64(4 * 10**10)).mesh
    assert m.topology.index_map(2).size_local > 0


def test_a_surface_in_no_physical_group_is_an_error_not_left_out(tmp_path):
    """The child writes the physical groups' cells only: a surface in none was left out of the
    mesh without a word (in-process meshing had failed on it)."""
    path = tmp_path / "loose.geo"
    path.write_text(
        SQUARE + "Point(5) = {2, 0, 0, 0.5}; Point(6) = {2, 1, 0, 0.5};\n"
        "Line(5) = {2, 5}; Line(6) = {5, 6}; Line(7) = {6, 3};\n"
        "Curve Loop(10) = {5, 6, 7, -2}; Plane Surface(10) = {10};\n"
    )
    for reader in (region_names, read_file):
        with pytest.raises(MeshError, match=r"surfaces 10 are in no Physical Surface"):
            reader(path)


def test_the_child_writes_nothing_in_the_users_home(tmp_path, monkeypatch):
    """gmsh's GUI library writes ~/.fltk at every start: the child gets a home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    geo, out = tmp_path / "square.geo", tmp_path / "regions.json"
    geo.write_text(SQUARE)
    gmsh_child.run("regions", geo, out, None, None)
    assert json.loads(out.read_text()) == {"hot": 1, "cold": 1, "plate": 2}
    assert list(home.iterdir()) == []
