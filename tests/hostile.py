"""Hostile and careless inputs for the hostile-input suite: hypothesis strategies for
malformed model files and stream states, the oracle each case is judged by, and a tally.

Import as ``from hostile import ...`` (pytest puts ``tests/`` on ``sys.path``).

Every strategy draws a ``Case``: a ``label`` (what was done, for failure messages), a
function that makes the hostile input from a valid one, ``refuse`` (True when no correct
reading could accept it: the call must raise) and ``names`` (strings of which the error
message must contain at least one: the config key, array member or state key concerned).
A case that is accepted must be read for what it says (``model_file_read_as_written``,
``state_round_trips``); one that is refused must raise ValueError or TypeError naming it,
and leave what it was loaded into as it was.

- Model files (``wavedil.load``): ``member_cases(members)`` (truncated archives, flipped
  bytes, duplicate, extra, missing or renamed members, ``.npy`` headers of another shape
  or dtype, oversized or broken headers, zip bombs) and ``config_cases(config)`` (a JSON
  value of the wrong type or out of range anywhere in the config, unknown or missing
  keys, header fields). ``write_members`` writes a member list as a zip archive.
- Stream states (``Stream.load_state_dict``): ``state_cases(state, spec)`` (unknown,
  missing, re-typed, re-shaped, non-finite or non-array entries, broken ``meta``).
- ``TALLY`` counts what the suites tried, refused and accepted (``record``);
  ``tally_line()`` prints it.

``COVERS`` names the public entry points these strategies exercise, for the suite's
registry test.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from wavedil.models.file import FORMAT_VERSION

COVERS = ("wavedil.load", "wavedil.models.file.read", "wavedil.models.file.ModelArchive",
          "wavedil.Stream.load_state_dict")
TALLY: Counter = Counter()  # (suite, outcome) -> count


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make(valid) -> hostile``, whether it must be refused, and the
    names an error must mention (any one; empty: any message)."""

    label: str
    make: Callable[[Any], Any]
    refuse: bool
    names: tuple[str, ...] = ()


def record(suite: str, outcome: str) -> None:
    """Count one input of ``suite``: ``"refused"`` or ``"accepted"``."""
    TALLY[suite, "tried"] += 1
    TALLY[suite, outcome] += 1


def tally_line() -> str:
    suites = sorted({suite for suite, _ in TALLY})
    return "; ".join(f"{s}: {TALLY[s, 'tried']} tried, {TALLY[s, 'refused']} refused clearly, "
                     f"{TALLY[s, 'accepted']} accepted correctly" for s in suites)


def check_refusal(error: BaseException, case: Case) -> None:
    """``error`` is a clear refusal of ``case``: a ValueError or TypeError (not a
    MemoryError, not a crash) that names what the case changed."""
    assert isinstance(error, (ValueError, TypeError)), (case.label, repr(error))
    message = str(error)
    assert not case.names or any(name in message for name in case.names), \
        f"{case.label}: the error does not name any of {case.names}: {message}"


# -- model files -----------------------------------------------------------------------------
Members = list[tuple[str, bytes]]  # archive member name -> bytes, in order


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str, fortran: bool = False,
               pad: int = 0) -> bytes:
    """A version 1.0 ``.npy`` header (``pad`` extra spaces: an oversized header)."""
    text = repr({"descr": dtype, "fortran_order": fortran, "shape": tuple(shape)})
    text += " " * pad
    text += " " * (-(len(text) + 11) % 64) + "\n"
    length = len(text)
    if length >= 2**16:  # version 2.0 for long headers
        return b"\x93NUMPY\x02\x00" + length.to_bytes(4, "little") + text.encode("latin1")
    return b"\x93NUMPY\x01\x00" + length.to_bytes(2, "little") + text.encode("latin1")


def read_members(path) -> Members:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_members(path, members: Members, compress: frozenset = frozenset()) -> None:
    """``members`` as a zip archive; the names in ``compress`` deflated (bombs)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of duplicate names
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members:
                method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
                archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data,
                                 compress_type=method)


def _names(members: Members) -> list[str]:
    return [name for name, _ in members]


def _with(members: Members, name: str, data: bytes) -> Members:
    return [(n, data if n == name else d) for n, d in members]


def member_cases(members: Members) -> st.SearchStrategy[Case]:
    """Hostile changes to the members of a valid model file (``Members`` -> ``Members``
    or, for whole-file changes, bytes)."""
    names = _names(members)
    params = [n for n in names if n != "__config__.npy"]
    stem = [n[:-4] for n in params]

    def truncate(cut: int) -> Case:
        return Case(f"truncated by {cut} bytes", lambda raw: raw[:-cut], True)

    def flip(where: float, mask: int) -> Case:
        def make(raw: bytes) -> bytes:
            i = int(where * (len(raw) - 1))
            return raw[:i] + bytes([raw[i] ^ mask]) + raw[i + 1:]
        return Case(f"byte at {where:.3f} of the file xor {mask}", make, False)

    def duplicate(i: int, other: bool) -> Case:
        name = names[i % len(names)]
        data = dict(members)[name] if not other else npy_bytes(np.zeros(3))
        return Case(f"member {name} twice", lambda m: m + [(name, data)], True, (name,))

    def extra(kind: str) -> Case:
        name, data = {"npy": ("blocks.99.conv1.weight.npy", npy_bytes(np.zeros((2, 2, 2)))),
                      "text": ("notes.txt", b"hello"),
                      "dir": ("sub/", b""),
                      "nested": ("sub/x.npy", npy_bytes(np.zeros(2)))}[kind]
        return Case(f"extra member {name}", lambda m: m + [(name, data)], True,
                    (name, name[:-4]))

    def drop(i: int) -> Case:
        name = params[i % len(params)]
        return Case(f"member {name} missing", lambda m: [x for x in m if x[0] != name], True,
                    (name[:-4],))

    def reshape(i: int, shape: tuple[int, ...], keep_data: bool) -> Case:
        name = params[i % len(params)]

        def make(m: Members) -> Members:
            data = dict(m)[name]
            body = data[_header_length(data):] if keep_data else \
                np.zeros(int(np.prod(shape)), "<f8").tobytes()
            return _with(m, name, npy_header(shape, "<f8") + body)
        changed = shape != _shape_of(dict(members)[name])
        return Case(f"member {name} header shape {shape} (data {'kept' if keep_data else 'fit'})",
                    make, changed or keep_data and _dtype_of(dict(members)[name]) != "<f8",
                    (name[:-4],))

    def retype(i: int, dtype: str) -> Case:
        name = names[i % len(names)]

        def make(m: Members) -> Members:
            data = dict(m)[name]
            shape = _shape_of(data)
            body = np.zeros(shape, dtype).tobytes() if "O" not in dtype else b"\x80\x04N."
            return _with(m, name, npy_header(shape, dtype) + body)
        return Case(f"member {name} dtype {dtype}", make, True, (name[:-4],))

    def header(i: int, kind: str) -> Case:
        name = names[i % len(names)]

        def make(m: Members) -> Members:
            data = dict(m)[name]
            hostile = {"huge": npy_header((10**6, 10**6), "<f8") + data[-64:],
                       "oversized": npy_header(_shape_of(data), "<f8", pad=20_000)
                       + data[_header_length(data):],
                       "magic": b"\x93NUMPX" + data[6:],
                       "version": data[:6] + b"\x03\x00" + data[8:],
                       "garbage": data[:10] + b"{'descr': __import__('os')}" + data[40:],
                       "negative": npy_header((-1,), "<f8") + data[-8:],
                       "empty": b""}[kind]
            return _with(m, name, hostile)
        return Case(f"member {name} header {kind}", make, True, (name[:-4],))

    def bomb(i: int, expected: bool) -> Case:
        name = names[i % len(names)] if expected else "bomb.npy"
        huge = npy_header((2**22,), "<f8") + bytes(8 * 2**22)  # 32 MiB of zeros

        def make(m: Members) -> tuple[Members, frozenset]:
            return (_with(m, name, huge) if expected else m + [(name, huge)],
                    frozenset({name}))
        return Case(f"zip bomb as member {name}", make, True, (name[:-4],))

    index = st.integers(0, 10**6)
    return st.one_of(
        st.builds(truncate, st.integers(1, 400)),
        st.builds(flip, st.floats(0, 1), st.integers(1, 255)),
        st.builds(duplicate, index, st.booleans()),
        st.builds(extra, st.sampled_from(["npy", "text", "dir", "nested"])),
        st.builds(drop, index),
        st.builds(reshape, index, st.sampled_from([(), (1,), (2, 3), (1, 1, 1, 1), (0,)]),
                  st.booleans()),
        st.builds(retype, index, st.sampled_from(["<i8", "<f2", "<c16", "|O", "<U4", "|b1",
                                                   "|V8"])),
        st.builds(header, index, st.sampled_from(["huge", "oversized", "magic", "version",
                                                   "garbage", "negative", "empty"])),
        st.builds(bomb, index, st.booleans()),
    ) if stem else st.nothing()


def _header_length(data: bytes) -> int:
    version = data[6]
    if version == 1:
        return 10 + int.from_bytes(data[8:10], "little")
    return 12 + int.from_bytes(data[8:12], "little")


def _shape_of(data: bytes) -> tuple[int, ...]:
    """The shape in a valid member's ``.npy`` header."""
    return _header_of(data)[0]


def _dtype_of(data: bytes) -> str:
    return _header_of(data)[2].str


def _header_of(data: bytes) -> tuple:
    stream = io.BytesIO(data)
    np.lib.format.read_magic(stream)
    return np.lib.format.read_array_header_1_0(stream)


# -- model file configs ----------------------------------------------------------------------
WRONG_VALUES = [12.9, 3.0, "3", "no", True, False, None, [], {}, [1.5], ["a"], -1, 0, 2**40,
                10**8, 2**70, {"channels": 4}, [[1]], "", "relu!"]


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (keys and list indices), the value's own included."""
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += leaves(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += leaves(item, path + (i,))
    return out


def replaced(value: Any, path: tuple, new: Any) -> Any:
    """A copy of JSON ``value`` with the item at ``path`` replaced by ``new`` (a
    ``_DROP`` deletes it)."""
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    if new is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return copy


_DROP = object()


def path_name(path: tuple) -> str:
    """``("layers", 2, "residual")`` -> ``layers[2].residual`` (as the schema names it)."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def config_cases(header: dict) -> st.SearchStrategy[Case]:
    """Hostile changes to a model file's JSON header (``dict`` -> ``dict``, or str for
    raw text)."""
    config = header["config"]
    paths = [p for p in leaves(config) if p]

    def wrong(i: int, new: Any) -> Case:
        path = paths[i % len(paths)]
        old = _at(config, path)
        refuse = _never_valid(path, old, new)
        top = str(path[0])
        return Case(f"config {path_name(path)} = {new!r} (was {old!r})",
                    lambda h: dict(h, config=replaced(h["config"], path, new)), refuse,
                    (path_name(path), top) if refuse else ())

    def unknown(key: str, nested: bool) -> Case:
        path = ("layers", 0, key) if nested and "layers" in config else (key,)
        return Case(f"unknown config key {path_name(path)}",
                    lambda h: dict(h, config=replaced(h["config"], path, 1)), True, (key,))

    def drop(i: int) -> Case:
        keys = list(config)
        key = keys[i % len(keys)]
        refuse = key in ("in_channels", "channels", "layers") and header["architecture"] != \
            "WaveNet"
        return Case(f"config key {key} dropped",
                    lambda h: dict(h, config=replaced(h["config"], (key,), _DROP)), refuse,
                    (key,) if refuse else ())

    def head(key: str, new: Any) -> Case:
        valid = (key == "wavedil_version" and isinstance(new, str)) or (
            key == "format_version" and type(new) is int and 1 <= new <= FORMAT_VERSION) or (
            key == "config" and isinstance(new, dict)) or (
            key in header and type(header[key]) is type(new) and header[key] == new)
        refuse = not valid
        return Case(f"header {key} = {new!r}", lambda h: dict(h, **{key: new}), refuse,
                    (key, "format", "architecture", "config", "not a wavedil"))

    def raw(text: str) -> Case:
        return Case(f"header text {text[:30]!r}", lambda h: text, True,
                    ("__config__", "format", "JSON"))

    return st.one_of(
        st.builds(wrong, st.integers(0, 10**6), st.sampled_from(WRONG_VALUES)),
        st.builds(unknown, st.sampled_from(["depth", "Channels", "stack", "__class__", "dropout"]),
                  st.booleans()),
        st.builds(drop, st.integers(0, 10**6)),
        st.builds(head, st.sampled_from(["format", "format_version", "architecture", "config",
                                         "wavedil_version", "extra"]),
                  st.sampled_from([None, 2, 1.0, "TCN", "Transformer", [], {}, True, "9"])),
        st.builds(raw, st.sampled_from(["", "{", "[" * 5000 + "]" * 5000, "NaN",
                                        '{"format": "wavedil-model", "format_version": NaN}',
                                        "\x00" * 10, "null", '"x"'])),
    )


def _at(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def _never_valid(path: tuple, old: Any, new: Any) -> bool:
    """Whether ``new`` in place of ``old`` at ``path`` has a JSON type the schema never takes
    there (a value of the same type may still be out of range: either outcome then)."""
    if old is None or type(old) is type(new):
        return False
    if new is None:
        return not _nullable(path)
    if path == ("channels",) and type(new) is int:  # a TCN's one width for every block
        return False
    return True


def _nullable(path: tuple) -> bool:
    return path[-1] in ("out_channels", "dilations", "input_kernel_size", "activation",
                        "in_channels") and not (len(path) == 1 and path[0] == "in_channels")


def model_file_read_as_written(model: Any, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """An accepted file was read as written: every number, flag and name of its config
    where the model keeps that key (types included: ``True`` is not ``1``), and every
    array bit for bit."""
    kept = model.config
    for path in leaves(header["config"]):
        if not path:
            continue
        value = _at(header["config"], path)
        try:
            got = _at(kept, path)
        except (KeyError, IndexError, TypeError):
            continue  # a key the model resolves away (stacks, a default)
        if value is None or isinstance(value, (dict, list)):
            continue
        assert type(got) is type(value) and got == value, (path, value, got)
    assert set(model.params) == set(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(model.params[name], value, err_msg=name)


# -- stream states -----------------------------------------------------------------------------
def state_cases(state: dict[str, np.ndarray], spec: dict) -> st.SearchStrategy[Case]:
    """Hostile changes to a stream state (``dict`` -> ``dict``); ``spec`` is the stream's
    ``full_state_spec`` (``wavedil.engine.state``), for which arrays a case may touch."""
    keys = [k for k in state if k != "meta" and not k.startswith("fn.")]  # (fn.: its own)
    floats = [k for k in keys if state[k].dtype.kind == "f" and state[k].size]
    ints = [k for k in keys if state[k].dtype.kind in "iu"]
    meta = json.loads(str(state["meta"]))

    def add(name: str) -> Case:
        key = {"near": (keys[0] + "x") if keys else "historyx", "meta2": "meta2",
               "child": "forward.level9.history", "fn": "fnx.peak", "empty": ""}[name]
        return Case(f"unknown key {key!r}", lambda s: dict(s, **{key: np.zeros(3)}), True,
                    (key,) if key else ("unexpected",))

    def drop(i: int) -> Case:
        key = keys[i % len(keys)]
        want = spec.get(key)
        refuse = want is not None and want.required
        return Case(f"key {key!r} dropped", lambda s: {k: v for k, v in s.items() if k != key},
                    refuse, tuple(keys))

    def retype(i: int, dtype: str) -> Case:
        key = keys[i % len(keys)]
        old = state[key].dtype
        integer = spec.get(key) is not None and spec[key].dtype == "integer"
        refuse = np.dtype(dtype) != old and not (integer and np.dtype(dtype).kind in "iu")
        return Case(f"key {key!r} as {dtype}", lambda s: dict(s, **{key: s[key].astype(dtype)}),
                    refuse, (key,))

    def reshape(i: int, how: str, delta: int) -> Case:
        key = keys[i % len(keys)]
        old = state[key]
        want = spec.get(key)

        def make(s: dict) -> dict:
            value = s[key]
            if how == "lead":
                value = np.concatenate([value, value], axis=0) if value.ndim else value[None]
            elif how == "last" and value.ndim:
                n = max(0, value.shape[-1] + delta)
                tail = np.zeros(value.shape[:-1] + (max(0, n - value.shape[-1]),), value.dtype)
                value = np.concatenate([value[..., :n], tail], axis=-1)
            elif how == "flat":
                value = value.reshape(-1)
            return dict(s, **{key: value})
        new = make(state)[key]
        refuse = new.shape != old.shape and (
            want is None and not key.startswith("fn.") or want is not None and (
                how != "last" or want.shortest is None or
                not want.shortest <= new.shape[-1] <= want.shape[-1]))
        return Case(f"key {key!r} reshaped ({how} {delta}) to {new.shape}", make, refuse,
                    tuple(keys))

    def poison(i: int, value: float, where: float) -> Case:
        key = floats[i % len(floats)]

        def make(s: dict) -> dict:
            bad = s[key].copy()
            bad.flat[int(where * (bad.size - 1))] = value
            return dict(s, **{key: bad})
        return Case(f"key {key!r} holds {value}", make, not key.startswith("fn."), (key,))

    def count(i: int, value: int) -> Case:
        key = ints[i % len(ints)]
        refuse = value < 0 or value > 2**62
        return Case(f"key {key!r} = {value}",
                    lambda s: dict(s, **{key: np.array(value, np.int64)}), refuse, (key,))

    def junk(i: int, kind: str) -> Case:
        key = keys[i % len(keys)] if keys else "meta"
        value = {"none": None, "text": "abc", "dict": {"a": 1}, "ragged": [[1.0, 2.0], [3.0]],
                 "strings": np.array(["x", "y"]), "objects": np.array([None, 1], dtype=object),
                 "complex": np.zeros(3, complex)}[kind]
        return Case(f"key {key!r} = {kind}", lambda s: dict(s, **{key: value}), True,
                    (key,))

    def meta_change(kind: str) -> Case:
        def with_meta(m: Any) -> Callable[[dict], dict]:
            return lambda s: dict(s, meta=np.array(json.dumps(m) if not isinstance(m, bytes)
                                                   else m))
        layout = meta["layout"] or [2, 1, "<f8"]
        changes: dict[str, tuple[Any, tuple[str, ...]]] = {
            "flushed-no": (dict(meta, flushed="no"), ("flushed",)),
            "flushed-1": (dict(meta, flushed=1), ("flushed",)),
            "flushed-null": (dict(meta, flushed=None), ("flushed",)),
            "layout-float": (dict(meta, layout=[float(layout[0])] + layout[1:]), ("layout",)),
            "layout-bool": (dict(meta, layout=[layout[0], True, layout[2]]), ("layout",)),
            "layout-batch0": (dict(meta, layout=[layout[0], 0, layout[2]]), ("layout",)),
            "layout-huge": (dict(meta, layout=[3, 10**9, layout[2]]), ("layout",)),
            "layout-object": (dict(meta, layout=layout[:2] + ["|O"]), ("layout",)),
            "layout-complex": (dict(meta, layout=layout[:2] + ["<c16"]), ("layout",)),
            "layout-ndim4": (dict(meta, layout=[4] + layout[1:]), ("layout",)),
            "layout-short": (dict(meta, layout=layout[:2]), ("layout",)),
            "layout-text": (dict(meta, layout="3d"), ("layout",)),
            "config-extra": (dict(meta, config=dict(meta["config"], extra=1)), ("extra",)),
            "config-retyped": (dict(meta, config=_retyped(meta["config"])), ("config",)),
            "config-missing": (dict(meta, config={}), ("config",)),
            "meta-extra": (dict(meta, owner="me"), ("meta",)),
            "meta-missing": ({k: v for k, v in meta.items() if k != "flushed"}, ("meta",)),
            "meta-list": ([meta], ("meta",)),
        }
        if kind in changes:
            value, names = changes[kind]
            return Case(f"meta {kind}", with_meta(value), True, names)
        flushed = f'"flushed": {json.dumps(meta["flushed"])}'
        raw = {"not-json": np.array("{config"), "number": np.array(3.0),
               "deep": np.array("[" * 100_000 + "]" * 100_000),
               "nan": np.array(json.dumps(meta).replace(flushed, '"flushed": NaN')),
               "bytes": np.array(b"{}"), "vector": np.array(["{}", "{}"])}[kind]
        return Case(f"meta {kind}", lambda s: dict(s, meta=raw), True, ("meta",))

    strategies = [
        st.builds(add, st.sampled_from(["near", "meta2", "child", "fn", "empty"])),
        st.builds(meta_change, st.sampled_from([
            "flushed-no", "flushed-1", "flushed-null", "layout-float", "layout-bool",
            "layout-batch0", "layout-huge", "layout-object", "layout-complex", "layout-ndim4",
            "layout-short", "layout-text", "config-extra", "config-retyped", "config-missing",
            "meta-extra", "meta-missing", "meta-list", "not-json", "number", "deep", "nan",
            "bytes", "vector"])),
    ]
    index = st.integers(0, 10**6)
    if keys:
        strategies += [
            st.builds(drop, index),
            st.builds(retype, index, st.sampled_from(["<f4", "<f8", "<i4", "<i8", "|b1",
                                                      "<c16", "<f2"])),
            st.builds(reshape, index, st.sampled_from(["lead", "last", "flat"]),
                      st.integers(-5, 5).filter(bool)),
            st.builds(junk, index, st.sampled_from(["none", "text", "dict", "ragged",
                                                    "strings", "objects", "complex"])),
        ]
    if ints:
        strategies.append(st.builds(count, index, st.sampled_from([-1, 0, 1, 7, 2**62 + 1,
                                                                   2**63 - 1])))
    if floats:
        strategies.append(st.builds(poison, index, st.sampled_from([np.nan, np.inf, -np.inf]),
                                    st.floats(0, 1)))
    return st.one_of(strategies)


def _retyped(config: dict) -> dict:
    """``config`` with its first bool, int or float value given another JSON type."""
    for key, value in config.items():
        if isinstance(value, bool):
            return dict(config, **{key: int(value)})
        if isinstance(value, int):
            return dict(config, **{key: float(value) + 0.5})
        if isinstance(value, float):
            return dict(config, **{key: str(value)})
    return dict(config, op=None)


def read_as_given(loaded: dict, given: dict) -> bool:
    """A stream loaded from ``given`` saves it back: the same arrays and meta, except that
    a history left out may come back as the zeros it stood for (a torch stream keeps its
    fresh histories)."""
    fresh = {key: value for key, value in loaded.items()
             if key not in given and np.asarray(value).dtype.kind == "f"
             and not np.any(np.asarray(value))}
    return same_state({k: v for k, v in loaded.items() if k not in fresh}, given)


def same_state(a: dict, b: dict) -> bool:
    """Two states hold the same arrays bit for bit (integer scalars by value) and meta."""
    if set(a) != set(b) or json.loads(str(a["meta"])) != json.loads(str(b["meta"])):
        return False
    for key in a:
        if key == "meta":
            continue
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype.kind in "iu" and y.dtype.kind in "iu":
            if x.shape != y.shape or not np.array_equal(x, y):
                return False
        elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True
