"""Hostile model files: ``wavedil.load`` reads a file as written or refuses it early and
clearly, within bounded time and memory (strategies and oracles: tests/hostile.py)."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hostile import (
    Case,
    check_refusal,
    config_cases,
    member_cases,
    model_file_read_as_written,
    npy_bytes,
    npy_header,
    read_members,
    record,
    tally_line,
    write_members,
)
from hypothesis import given, settings

import wavedil
from wavedil.models import schema
from wavedil.models.file import MAX_VALUES, read

SECONDS = 5.0  # the most one load of a small hostile file may take

MODELS = {
    "TCN": lambda: wavedil.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1,
                               seed=1),
    "WaveNet": lambda: wavedil.WaveNet(1, 6, 8, 5, kernel_size=2, dilations=[1, 2],
                                       global_cond_channels=2, local_cond_channels=3, seed=2),
    "Stack": lambda: wavedil.Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                                    {"channels": 4, "kernel_size": 2, "groups": 2,
                                     "residual": True},
                                    {"channels": 1, "activation": None}], in_channels=1,
                                   seed=3),
}


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """Per architecture: the members of a valid model file and its JSON header."""
    folder = tmp_path_factory.mktemp("valid")
    out = {}
    for name, make in MODELS.items():
        path = make().save(folder / f"{name}.npz")
        members = read_members(path)
        header = json.loads(str(np.load(path, allow_pickle=False)["__config__"]))
        out[name] = (members, header)
    yield out
    print("\n" + tally_line())


def attempt(path, case: Case):
    """``wavedil.load(path)``: the model, or the refusal checked against ``case``."""
    start = time.perf_counter()
    try:
        model = wavedil.load(path)
    except Exception as error:  # judged by check_refusal: ValueError/TypeError naming it
        assert time.perf_counter() - start < SECONDS, case.label
        check_refusal(error, case)
        assert str(error).startswith(str(path)), f"{case.label}: {error}"
        record("model files", "refused")
        return None
    assert time.perf_counter() - start < SECONDS, case.label
    assert not case.refuse, f"{case.label}: accepted"
    record("model files", "accepted")
    return model


def check_accepted(model, path):
    """An accepted file is read as written (read independently with numpy)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays.pop("__config__")))
    model_file_read_as_written(model, header, arrays)


@pytest.mark.parametrize("architecture", sorted(MODELS))
def test_valid_files_load_as_written(valid, tmp_path, architecture):
    members, _ = valid[architecture]
    path = tmp_path / "m.npz"
    write_members(path, members)
    model = attempt(path, Case("valid", lambda m: m, False))
    check_accepted(model, path)
    x = np.random.default_rng(0).standard_normal((1, model.in_channels, 50))
    cond = {"global_cond": np.ones((1, 2)), "local_cond": np.ones((1, 3, 50))} \
        if architecture == "WaveNet" else {}
    np.testing.assert_array_equal(model(x, **cond), MODELS[architecture]()(x, **cond))


@pytest.mark.parametrize("architecture", sorted(MODELS))
def test_hostile_members(valid, tmp_path_factory, architecture):
    members, _ = valid[architecture]
    folder = tmp_path_factory.mktemp("members")

    @settings(max_examples=2 * settings.default.max_examples)
    @given(case=member_cases(members))
    def check(case):
        path = folder / "m.npz"
        path.unlink(missing_ok=True)
        if case.label.startswith(("truncated", "byte at")):
            write_members(path, members)
            path.write_bytes(case.make(path.read_bytes()))
        else:
            made = case.make(list(members))
            hostile, compress = made if isinstance(made, tuple) else (made, frozenset())
            write_members(path, hostile, compress)
        model = attempt(path, case)
        if model is not None:
            check_accepted(model, path)

    check()


@pytest.mark.parametrize("architecture", sorted(MODELS))
def test_hostile_configs(valid, tmp_path_factory, architecture):
    members, header = valid[architecture]
    folder = tmp_path_factory.mktemp("configs")

    @settings(max_examples=3 * settings.default.max_examples)
    @given(case=config_cases(header))
    def check(case):
        made = case.make(dict(header))
        text = made if isinstance(made, str) else json.dumps(made)
        path = folder / "m.npz"
        path.unlink(missing_ok=True)
        write_members(path, [(n, npy_bytes(np.array(text)) if n == "__config__.npy" else d)
                             for n, d in members])
        model = attempt(path, case)
        if model is not None:
            check_accepted(model, path)

    check()


# -- the cases, each named -------------------------------------------------------------
def _edited(valid, tmp_path, architecture, edit, members_edit=None):
    members, header = valid[architecture]
    header = json.loads(json.dumps(header))
    edit(header["config"])
    members = [(n, npy_bytes(np.array(json.dumps(header))) if n == "__config__.npy" else d)
               for n, d in members]
    if members_edit:
        members = members_edit(members)
    path = tmp_path / "edited.npz"
    write_members(path, members)
    return path


@pytest.mark.parametrize(("architecture", "edit", "message"), [
    ("Stack", lambda c: c["layers"][2].update(residual="no"),
     r"config 'layers\[2\].residual' must be true or false, got 'no'"),
    ("Stack", lambda c: c["layers"][0].update(residual=0),
     r"'layers\[0\].residual' must be true or false, got 0"),
    ("TCN", lambda c: c.update(channels=[12.9, 3]),
     r"config 'channels' must be an integer from 1 to 65536 or a list of them, got \[12.9, 3\]"),
    ("TCN", lambda c: c.update(kernel_size=3.0), r"'kernel_size' must be an integer .* got 3.0"),
    ("TCN", lambda c: c.update(stacks=10**8), r"'stacks' must be an integer from 1 to 16384, "
                                              r"got 100000000"),
    ("TCN", lambda c: c.update(dilations=[1, 4] * 5000, stacks=2, channels=3),
     r"10000 dilations x 2 stacks = 20000 layers, more than 16384"),
    ("TCN", lambda c: c.update(dilations=None, channels=[3] * 40),
     r"default dilations reach 2\*\*39 = 549755813888, more than 16777216"),
    ("TCN", lambda c: c.update(depth=3), r"unknown key\(s\) \['depth'\]"),
    ("TCN", lambda c: c.pop("in_channels"), r"missing \['in_channels'\]"),
    ("WaveNet", lambda c: c.update(dilations=[2**40]), r"'dilations' must be a list .* got "
                                                       r"\[1099511627776\]"),
    ("WaveNet", lambda c: c.update(global_cond_channels=True),
     r"'global_cond_channels' must be an integer from 0 to 65536, got True"),
    ("WaveNet", lambda c: c.update(residual_channels=65536, skip_channels=65536),
     rf"config declares \d+ parameter values, more than a model file may hold \({MAX_VALUES}"),
])
def test_config_errors_name_the_key_and_the_numbers(valid, tmp_path, architecture, edit,
                                                     message):
    path = _edited(valid, tmp_path, architecture, edit)
    with pytest.raises(ValueError, match=message):
        wavedil.load(path)
    record("model files", "refused")


def test_duplicate_members_are_refused_not_last_wins(valid, tmp_path):
    members, _ = valid["TCN"]
    path = tmp_path / "dup.npz"
    write_members(path, members + [("head.bias.npy", npy_bytes(np.array([7.0])))])
    with pytest.raises(ValueError, match=r"member\(s\) \['head.bias.npy'\] appear more than "
                                         r"once"):
        wavedil.load(path)
    with pytest.raises(ValueError, match="appear more than once"):
        read(path)
    record("model files", "refused")


def test_member_headers_are_checked_before_any_data(valid, tmp_path, monkeypatch):
    """A member whose header claims 10**12 values is refused from its header: no
    parameter's data is read (``_read`` is watched to prove it)."""
    members, _ = valid["TCN"]
    path = tmp_path / "huge.npz"
    huge = npy_header((10**6, 10**6), "<f8") + bytes(8)
    write_members(path, [(n, huge if n == "head.weight.npy" else d) for n, d in members])
    reads = []
    original = wavedil.models.file.ModelArchive._read

    def watched(self, name, *args):
        reads.append(name)
        return original(self, name, *args)

    monkeypatch.setattr(wavedil.models.file.ModelArchive, "_read", watched)
    with pytest.raises(ValueError, match=r"member 'head.weight': the archive declares \d+ "
                                         r"bytes, its .npy header 8000000000128"):
        wavedil.load(path)
    assert reads == ["__config__"]
    record("model files", "refused")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []

    def run():
        try:
            wavedil.load(fifo)
        except ValueError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(SECONDS)
    assert not thread.is_alive(), "loading a FIFO blocked"
    assert outcome and "not a regular file (a FIFO)" in outcome[0]
    with pytest.raises(ValueError, match=r"not a regular file \(a directory\)"):
        wavedil.load(tmp_path)
    record("model files", "refused")
    record("model files", "refused")


def test_schema_tables_cover_every_constructor_argument():
    """Each table names exactly the model class's constructor arguments (params and seed
    aside): a new argument needs a row."""
    import inspect

    from wavedil.models.loader import CLASSES

    assert set(schema.TABLES) == set(CLASSES)
    for name, cls in CLASSES.items():
        arguments = set(inspect.signature(cls).parameters) - {"params", "seed"}
        assert set(schema.TABLES[name]) == arguments, name


# -- memory and time: the nastiest files in a process with a small address space ---------------
_BOUNDED = textwrap.dedent("""
    import json, resource, sys, time
    import wavedil

    def address_space():  # kB of virtual memory in use (Linux)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmSize"))

    valid, room, files = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    wavedil.load(valid)  # warm: every module this path uses is imported
    limit = (address_space() << 10) + room
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    out = {}
    for name, path in files.items():
        start = time.perf_counter()
        try:
            wavedil.load(path)
            verdict = "accepted"
        except ValueError as error:
            verdict = "refused: " + str(error)[:200]
        except MemoryError:
            verdict = "MemoryError"
        out[name] = (verdict, time.perf_counter() - start)
    wavedil.load(valid)  # still works under the limit
    print(json.dumps(out))
""")


def _nasty_files(valid, folder):
    """name -> path of the nastiest files: each holds 128 MiB to 256 MiB once decompressed,
    or claims far more, in a few hundred kB at most."""
    members, header = valid["TCN"]
    zeros = np.zeros(2**27 // 8)  # 128 MiB
    bomb = npy_bytes(zeros)
    files = {}

    def put(name, hostile, compress=frozenset()):
        files[name] = str(folder / f"{name}.npz")
        write_members(folder / f"{name}.npz", hostile, compress)

    put("unexpected-bomb", members + [("junk.npy", npy_bytes(np.zeros(2**25)))],
        frozenset({"junk.npy"}))
    put("expected-bomb", [(n, bomb if n == "head.weight.npy" else d) for n, d in members],
        frozenset({"head.weight.npy"}))
    put("duplicate-bomb", members + [("head.bias.npy", bomb)], frozenset({"head.bias.npy"}))
    put("config-bomb", [(n, npy_header((), "<U67108864") + bytes(4 * 2**26)
                         if n == "__config__.npy" else d) for n, d in members],
        frozenset({"__config__.npy"}))
    deep = json.dumps(dict(header, config={"in_channels": 1, "channels": [4],
                                           "kernel_size": "X"})).replace(
        '"X"', "[" * 200_000 + "]" * 200_000)
    put("deep-json", [(n, npy_bytes(np.array(deep)) if n == "__config__.npy" else d)
                      for n, d in members], frozenset({"__config__.npy"}))
    claim = npy_header((10**6, 10**6), "<f8") + bytes(8 * 16)
    put("header-claims-1e12", [(n, claim if n == "head.weight.npy" else d)
                               for n, d in members])
    big = json.dumps(dict(header, config=dict(header["config"], channels=[8192, 8191],
                                               in_channels=8000)))  # the same array names
    put("declared-2e9-values", [(n, npy_bytes(np.array(big)) if n == "__config__.npy" else d)
                                for n, d in members])
    stacks = json.dumps(dict(header, config=dict(header["config"], stacks=10**8, channels=3)))
    put("stacks-1e8", [(n, npy_bytes(np.array(stacks)) if n == "__config__.npy" else d)
                       for n, d in members])
    return files


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, RLIMIT_AS")
def test_nasty_files_are_refused_in_bounded_memory_and_time(valid, tmp_path):
    files = _nasty_files(valid, tmp_path)
    for name, path in files.items():
        assert os.path.getsize(path) < 600_000, (name, os.path.getsize(path))
    valid_path = tmp_path / "valid.npz"
    write_members(valid_path, valid["TCN"][0])
    room = 64 << 20  # 64 MiB above what the warm process maps: less than any bomb holds
    done = subprocess.run([sys.executable, "-c", _BOUNDED, str(valid_path), str(room),
                           json.dumps(files)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert "more than a model file may hold" in results["declared-2e9-values"][0]
    for name, (verdict, seconds) in results.items():
        assert verdict.startswith("refused: "), (name, verdict)
        assert seconds < SECONDS, (name, seconds)
        record("model files", "refused")
