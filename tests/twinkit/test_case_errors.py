"""Every invalid case ends with exit code 2 and one clear message, never a traceback.

The message names the file, the key path as written in the YAML (`boundary_conditions[1].h`), the
bad value and what was expected. Each bad case is a small edit of a valid one. The table runs
in-process (same code path, no start-up cost); a sample runs as real processes, which is what
proves that nothing but the message reaches the terminal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

PARAM_H = (
    "parameters:\n"
    '  h: {value: "750 W/(m^2*K)", range: ["100 W/(m^2*K)", "1000 W/(m^2*K)"], role: latent}\n'
)
RIGHT_H = "region: right, h: 750 W/(m^2*K)"
RIGHT_AMBIENT = "h: 750 W/(m^2*K), ambient: 0 degC}\n  - {type: convection, region: top"
GENERATOR = "  generator: rectangle\n  length: 0.6 m\n  height: 1.0 m\n  cells: [6, 10]\n"
BEFORE_PROBES = "probes:\n"  # insert a boundary condition here to make it boundary_conditions[3]


@dataclass(frozen=True)
class Bad:
    """A bad case: the base case with `edits` (old → new) and `append`, or the whole `text`."""

    id: str
    expect: tuple[str, ...]  # key path, bad value, what was expected: all in the message
    edits: tuple[tuple[str, str], ...] = ()
    append: str = ""
    text: str | None = None
    lines: int = 1  # error lines: one per independent problem

    def build(self, base: str) -> str:
        if self.text is not None:
            return self.text
        for old, new in self.edits:
            assert base.count(old) == 1, f"{old!r} must occur once in the base case"
            base = base.replace(old, new)
        return base + self.append


def _bc(text: str) -> tuple[tuple[str, str]]:
    """Edit adding a fourth boundary condition, `boundary_conditions[3]`."""
    return ((BEFORE_PROBES, f"  - {text}\n{BEFORE_PROBES}"),)


BAD = [
    # ---- the file itself ---------------------------------------------------------------------
    Bad(
        "yaml-unclosed-bracket",
        ("not valid YAML", "line 8", "expected ',' or ']'", "flow sequence at line 7"),
        (("cells: [6, 10]", "cells: [6, 10"),),
    ),
    Bad("yaml-tab", ("not valid YAML", "line 4", r"'\t'"), (("  generator", "\tgenerator"),)),
    Bad("empty-file", ("empty", "expected a mapping"), text=""),
    Bad(
        "yaml-duplicate-key",
        ("not valid YAML", "line 2", "key 'model' is given twice"),
        text="model: heat_conduction\nmodel: elasticity\n",
    ),
    Bad("only-comments", ("empty", "expected a mapping"), text="# nothing here\n"),
    Bad("top-level-list", ("(top level)", "expected a mapping", "got list"), text="- a\n- b\n"),
    Bad("top-level-scalar", ("(top level)", "expected a mapping", "got str"), text="hello\n"),
    # ---- schema ------------------------------------------------------------------------------
    Bad(
        "missing-model",
        ("model:", "required key is missing"),
        (("model: heat_conduction\n", ""),),
    ),
    Bad(
        "unknown-model",
        ("model:", "'heat_conductoin'", "expected 'heat_conduction'"),
        (("model: heat_conduction", "model: heat_conductoin"),),
    ),
    Bad("unknown-top-level-key", ("colour:", "'red'", "unknown key"), append="colour: red\n"),
    Bad(
        "unknown-nested-key",
        ("materials.plate.conductivty:", "'52 W/(m*K)'", "unknown key"),
        (("conductivity:", "conductivty:"),),
    ),
    Bad(
        "unknown-key-in-boundary-condition",
        ("boundary_conditions[1].ambeint:", "'0 degC'", "unknown key"),
        ((RIGHT_AMBIENT, RIGHT_AMBIENT.replace("ambient", "ambeint")),),
    ),
    Bad(
        "string-for-list",
        ("mesh.cells:", "'ten'", "expected a list"),
        (("cells: [6, 10]", "cells: ten"),),
    ),
    Bad(
        "list-too-long",
        ("mesh.cells:", "[6, 10, 3]", "expected at most 2 items"),
        (("cells: [6, 10]", "cells: [6, 10, 3]"),),
    ),
    Bad(
        "non-positive-count",
        ("mesh.cells[1]:", "-10", "greater than 0"),
        (("cells: [6, 10]", "cells: [6, -10]"),),
    ),
    Bad(  # pydantic's PositiveInt took true for 1 cell
        "boolean-count",
        ("mesh.cells[1]:", "true", "expected a valid integer"),
        (("cells: [6, 10]", "cells: [6, true]"),),
    ),
    Bad(
        "string-for-mapping",
        ("boundary_conditions[3]:", "'hot'", "expected a mapping"),
        _bc("hot"),
    ),
    Bad(
        "option-not-in-choices",
        ("solver.degree:", "5", "expected 1, 2 or 3"),
        append="solver: {degree: 5}\n",
    ),
    Bad(
        "unknown-mesh-generator",
        ("mesh:", "rectangel", "expected 'file: PATH' or 'generator:'"),
        (("generator: rectangle", "generator: rectangel"),),
    ),
    Bad(
        "capitalised-user-key-kept-in-path",
        ("probes.T_A.point:", "'0.6 m'", "expected a list"),
        (("point: [0.6 m, 0.2 m]", "point: 0.6 m"),),
    ),
    # ---- units -------------------------------------------------------------------------------
    Bad(
        "unknown-unit",
        ("boundary_conditions[1].h:", "'5 W/(m^2*Kelvinz)'", "unknown unit 'Kelvinz'"),
        ((RIGHT_H, "region: right, h: 5 W/(m^2*Kelvinz)"),),
    ),
    Bad(
        "wrong-dimension",
        ("boundary_conditions[1].h:", "'5 m'", "[length]", "expected units compatible with"),
        ((RIGHT_H, "region: right, h: 5 m"),),
    ),
    Bad(
        "bare-number-needs-units",
        ("boundary_conditions[1].h:", "750", "give units compatible with W/(m^2*K)"),
        ((RIGHT_H, "region: right, h: 750"),),
    ),
    Bad(
        "boolean-for-quantity",
        ("boundary_conditions[1].h:", "true", "not a boolean"),
        ((RIGHT_H, "region: right, h: yes"),),
    ),
    Bad(
        "bare-number-in-load",
        ("loads[0].value:", "(got 5)", "units compatible with W/m^3"),
        append="loads:\n  - {type: heat_source, value: 5}\n",
    ),
    Bad(
        "bare-number-in-point",
        ("probes.T_A.point[1]:", "(got 0.2)", "units compatible with m"),
        (("point: [0.6 m, 0.2 m]", "point: [0.6 m, 0.2]"),),
    ),
    # ---- parameters --------------------------------------------------------------------------
    Bad(
        "range-lower-above-upper",
        ("parameters.h:", "lower 1000 W/(m^2*K)", "above upper 100 W/(m^2*K)"),
        append=PARAM_H.replace('"100 W/(m^2*K)", "1000', '"1000 W/(m^2*K)", "100'),
    ),
    Bad(
        "value-outside-range",
        ("parameters.h:", "value 7500 W/(m^2*K)", "outside the range"),
        append=PARAM_H.replace('value: "750', 'value: "7500'),
    ),
    Bad(
        "design-parameter-without-range",
        ("parameters.h:", '"role": "design"', "needs a range"),
        append='parameters:\n  h: {value: "750 W/(m^2*K)", role: design}\n',
    ),
    Bad(
        "parameter-unknown-unit",
        ("parameters.h:", "'750 W/(m^2*Kelvinz)'", "unknown unit 'Kelvinz'"),
        append='parameters:\n  h: {value: "750 W/(m^2*Kelvinz)"}\n',
    ),
    Bad(
        "parameter-value-and-range-dimensions-differ",
        ("parameters.T_in:", "[length]", "[temperature]", "different dimensions"),
        append='parameters:\n  T_in: {value: "5 m", range: ["1 K", "2 K"]}\n',
    ),
    Bad(
        "parameter-value-of-wrong-type",
        ("parameters.T_in.value:", "[1, 2]", "expected a valid string or a valid number"),
        append="parameters:\n  T_in: {value: [1, 2]}\n",
    ),
    Bad(
        "parameter-role-typo",
        ("parameters.h.role:", "'desing'", "expected 'design'"),
        append='parameters:\n  h: {value: "750 W/(m^2*K)", role: desing}\n',
    ),
    Bad(
        "undefined-parameter",
        ("boundary_conditions[1].h:", "'$foo'", "refers to no parameter", "defined: h"),
        ((RIGHT_H, "region: right, h: $foo"),),
        append=PARAM_H,
    ),
    Bad(
        "parameter-of-wrong-dimension",
        ("boundary_conditions[1].h:", "'L'", "[length]", "compatible with W/(m^2*K)"),
        ((RIGHT_H, "region: right, h: $L"),),
        append='parameters:\n  L: {value: "3 mm"}\n',
    ),
    Bad(
        "malformed-parameter-reference",
        ("boundary_conditions[1].h:", "'$1h'", "use $name"),
        ((RIGHT_H, "region: right, h: $1h"),),
    ),
    # ---- the model ---------------------------------------------------------------------------
    Bad(
        "boundary-condition-not-for-model",
        ("boundary_conditions[3].type:", "'traction'", "heat_conduction", "expected one of"),
        _bc("{type: traction, region: left, value: [1 Pa, 0 Pa]}"),
    ),
    Bad(
        "unknown-boundary-condition-type",
        ("boundary_conditions[1].type:", "'convecton'", "expected one of", "'convection'"),
        (("type: convection, region: right", "type: convecton, region: right"),),
    ),
    Bad(
        "boundary-condition-without-type",
        ("boundary_conditions[3].type:", "required key is missing"),
        _bc("{region: left, value: 5 K}"),
    ),
    Bad(
        "boundary-condition-missing-key",
        ("boundary_conditions[1].ambient:", "required key is missing"),
        ((RIGHT_AMBIENT, RIGHT_AMBIENT.replace(", ambient: 0 degC", "")),),
    ),
    Bad(
        "missing-material-property",
        ("materials.plate.conductivity:", "required by model heat_conduction"),
        (("conductivity: 52 W/(m*K)", "density: 7800 kg/m^3"),),
    ),
    Bad(
        "transient-needs-density-and-specific-heat",
        ("materials.plate.density:", "materials.plate.specific_heat:", "transient"),
        append="solver:\n  time: {end: 10 s, steps: 2, initial_temperature: 20 degC}\n",
        lines=2,
    ),
    # ---- mesh and regions --------------------------------------------------------------------
    Bad(
        "mesh-file-missing",
        ("mesh.file:", "'nowhere.msh'", "mesh file not found"),
        ((GENERATOR, "  file: nowhere.msh\n"),),
    ),
    Bad(
        "region-not-in-generated-mesh",
        ("boundary_conditions[1].region:", "'rigth'", "'right'", "not in the mesh"),
        (("region: right", "region: rigth"),),
    ),
    Bad(
        "qoi-region-not-in-mesh",
        ("outputs.qoi.q.region:", "'nope'", "'bottom'", "not in the mesh"),
        append="outputs:\n  qoi:\n    q: {type: heat_flow, region: nope}\n",
    ),
]
BY_ID = {b.id: b for b in BAD}
# also run as real processes: one per stage (YAML, schema and units, consistency, mesh regions)
AS_PROCESS = [
    "yaml-unclosed-bracket",
    "unknown-unit",
    "boundary-condition-not-for-model",
    "region-not-in-generated-mesh",
]


def assert_one_clear_message(r, path: Path, expect: tuple[str, ...], lines: int = 1) -> None:
    """Exit code 2; `lines` lines on stderr, each naming the file; `expect` all in the message."""
    assert r.returncode == 2, r.output
    assert "Traceback" not in r.output
    assert r.stdout == ""
    msg = r.stderr.strip()
    assert msg.startswith("error: "), msg
    assert len(msg.splitlines()) == lines, msg
    for line in msg.splitlines():
        assert path.name in line, msg
    for fragment in expect:
        assert fragment in msg, f"{fragment!r} not in:\n{msg}"


def test_table_ids_are_unique():
    assert len(BY_ID) == len(BAD)


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_bad_case(bad: Bad, base_case, write_case, cli):
    path = write_case(bad.build(base_case))
    r = cli("validate", path)
    assert_one_clear_message(r, path, bad.expect, bad.lines)
    # pydantic's union tags and member names are not keys the user wrote
    for internal in (".convection.", ".heat_source.", ".rectangle.", ".str", ".float", "Input"):
        assert internal not in r.stderr


def test_bad_cases_in_real_processes(base_case, tmp_path, write_case, cli_processes):
    """What reaches a terminal: one message on stderr, nothing on stdout, no traceback."""
    paths = {i: write_case(BY_ID[i].build(base_case), f"{i}.yaml") for i in AS_PROCESS}
    paths["not-found"] = tmp_path / "nothere.yaml"
    results = cli_processes(*[("validate", p) for p in paths.values()])
    for (case_id, path), r in zip(paths.items(), results, strict=True):
        bad = BY_ID.get(case_id, Bad(case_id, ("case file not found",)))
        assert_one_clear_message(r, path, bad.expect, bad.lines)


def test_the_base_case_is_valid(base_case, write_case, cli):
    path = write_case(base_case)
    r = cli("validate", path)
    assert r.returncode == 0, r.output
    assert "ok" in r.stdout and r.stderr == ""


def test_valid_case_with_parameters_lists_them(base_case, write_case, cli):
    path = write_case(base_case.replace(RIGHT_H, "region: right, h: $h") + PARAM_H)
    r = cli("validate", path)
    assert r.returncode == 0, r.output
    assert "latent" in r.stdout and "W/(m^2*K)" in r.stdout


def test_case_path_is_a_folder(tmp_path, cli):
    r = cli("validate", tmp_path)
    assert_one_clear_message(r, tmp_path, ("cannot read the file",))


def test_case_path_is_a_pipe_or_a_device(tmp_path, cli):
    """A FIFO or /dev/zero given as the case file is refused without opening it (a pipe would
    block, a device never end), and not called missing."""
    fifo = tmp_path / "case.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        r = cli("validate", path)
        assert_one_clear_message(r, path, ("not a regular file",))
        assert "not found" not in r.output


# ---- meshes from files: names come from gmsh physical groups --------------------------------
def _file_case(region: str = "cold", material_region: str = "plate") -> str:
    return (
        "model: heat_conduction\n"
        "mesh: {file: square.geo}\n"
        f"materials:\n  m: {{conductivity: 1 W/(m*K), regions: [{material_region}]}}\n"
        "boundary_conditions:\n"
        "  - {type: temperature, region: hot, value: 1 K}\n"
        f"  - {{type: temperature, region: {region}, value: 0 K}}\n"
    )


def test_file_mesh_with_physical_groups_is_valid(square_geo, write_case, cli):
    r = cli("validate", write_case(_file_case()))
    assert r.returncode == 0, r.output


def test_region_not_in_file_mesh(square_geo, write_case, cli_process):
    path = write_case(_file_case(region="clod", material_region="plat"))
    expect = (
        "boundary_conditions[1].region: region 'clod' is not in the mesh",
        "materials.m.regions[0]: region 'plat' is not in the mesh",
        "['cold', 'hot', 'plate']",
    )
    assert_one_clear_message(cli_process("validate", path), path, expect, lines=2)


def test_unreadable_mesh_file(square_geo, write_case, cli):
    square_geo.write_text("Point(1) = {0, 0\n")
    path = write_case(_file_case())
    assert_one_clear_message(cli("validate", path), path, ("mesh.file:", "square.geo", "gmsh"))


# ---- --set on the command line (twinkit solve): refused before anything is computed ----------
SET_ERRORS = [
    ("foo=3 K", ("--set foo", "no such parameter", "defined: h")),
    ("h=5 W/(m^2*Kelvinz)", ("--set h=5 W/(m^2*Kelvinz)", "unknown unit 'Kelvinz'", "750 W")),
    ("h=5 m", ("--set h=5 m", "[length]", "expected units compatible with '750 W/(m^2*K)'")),
    ("h=500", ("--set h=500", "dimensionless", "expected units compatible with")),
    ("h", ("--set 'h'", "expected name=value")),
    ("h=", ("--set 'h='", "expected name=value")),
    ("h=5000 W/(m^2*K)", ("--set h=5000 W/(m^2*K)", "outside", "['100 W/(m^2*K)', '1000")),
]


@pytest.mark.parametrize("setting, expect", SET_ERRORS, ids=[s for s, _ in SET_ERRORS])
def test_bad_set(setting, expect, base_case, write_case, tmp_path, cli):
    path = write_case(base_case.replace(RIGHT_H, "region: right, h: $h") + PARAM_H)
    out = tmp_path / "out"
    r = cli("solve", path, "--no-plots", "--out", out, "--set", setting)
    assert r.returncode == 2, r.output
    assert "Traceback" not in r.output
    msg = r.stderr.strip()
    assert len(msg.splitlines()) == 1, msg
    for fragment in expect:
        assert fragment in msg, f"{fragment!r} not in:\n{msg}"
    assert not out.exists()


def test_bad_set_in_a_real_process(base_case, write_case, tmp_path, cli_process):
    path = write_case(base_case.replace(RIGHT_H, "region: right, h: $h") + PARAM_H)
    r = cli_process("solve", path, "--no-plots", "--out", tmp_path / "out", "--set", "h=5 mm")
    assert r.returncode == 2 and "Traceback" not in r.output, r.output
    assert r.stderr.startswith(f"error: {path}: parameters: --set h=5 mm: has dimension [length]")


# ---- --debug ----------------------------------------------------------------------------------
def test_debug_shows_the_traceback(base_case, write_case, cli_process):
    path = write_case(BY_ID["unknown-unit"].build(base_case))
    r = cli_process("--debug", "validate", path)
    assert r.returncode != 0
    assert "Traceback" in r.stderr
    assert "CaseError" in r.stderr and "boundary_conditions[1].h" in r.stderr
