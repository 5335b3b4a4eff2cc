"""What a probe observed, as data: every kind of value survives the round trip with its
type, dtype, shape and flags; exceptions arrive as names a student cannot choose; and the
decoder, which reads what a hostile process sent, raises only MalformedObservation on
anything it did not write."""

import json
import random

import numpy as np
import pytest
import torch

from course_utils.checks.observations import (Failure, MalformedObservation, Opaque, Raised,
                                              decode, display_type, encode, pack, roundtrip,
                                              unpack)


def _frames(data: bytes):
    offset = 0

    def read(n):
        nonlocal offset
        chunk = data[offset:offset + n]
        offset += n
        return chunk

    return read


def _through_bytes(value):
    """encode, pack, unpack and decode, as the grader gets it (no originals)."""
    tree, blobs = encode(value)
    message, blobs = unpack(_frames(pack({"v": tree}, blobs)))
    return decode(message["v"], blobs)


@pytest.mark.parametrize("value", [None, True, False, 0, -3, 2**62, 1.5, float("inf"),
                                   "text", "", 1 + 2j, [1, "a"], (1, (2, 3)), {"k": [1.0]}])
def test_plain_values_survive(value):
    got = _through_bytes(value)
    assert got == value and type(got) is type(value)


def test_nan_survives():
    assert np.isnan(_through_bytes(float("nan")))


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "int64", "uint8", "float16",
                                   "float32", "float64", "complex64", "complex128"])
def test_numpy_arrays_keep_dtype_shape_and_values(dtype):
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    got = _through_bytes(array)
    assert isinstance(got, np.ndarray) and got.dtype == array.dtype
    assert got.shape == (3, 4) and np.array_equal(got, array)
    got[0, 0] = 1  # writable, not a view of the frame's bytes
    scalar = _through_bytes(array.dtype.type(1))
    assert type(scalar) is array.dtype.type


def test_non_contiguous_and_empty_arrays():
    array = np.arange(20.0).reshape(4, 5)[:, ::2]
    assert np.array_equal(_through_bytes(array), array)
    empty = _through_bytes(np.zeros((0, 3), dtype=np.float32))
    assert empty.shape == (0, 3) and empty.dtype == np.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.int64,
                                   torch.complex64, torch.bool])
def test_torch_tensors_keep_dtype_shape_values_and_grad(dtype):
    tensor = torch.arange(6).reshape(2, 3).to(dtype)
    got = _through_bytes(tensor)
    assert isinstance(got, torch.Tensor) and got.dtype == dtype and got.shape == (2, 3)
    assert torch.equal(got, tensor) and not got.requires_grad


def test_torch_requires_grad_device_and_meta():
    tensor = torch.ones(3, dtype=torch.float64, requires_grad=True) * 2
    got = _through_bytes(tensor)
    assert got.requires_grad and got.dtype == torch.float64
    assert torch.equal(got.detach(), tensor.detach())
    meta = _through_bytes(torch.empty(4, 2, device="meta"))
    assert meta.device.type == "meta" and meta.shape == (4, 2)
    conj = _through_bytes(torch.tensor([1 + 2j]).conj())
    assert torch.equal(conj, torch.tensor([1 - 2j]))


def test_other_objects_are_opaque_with_their_class_name():
    class HenonCell:
        pass

    got = _through_bytes([HenonCell(), torch.float32, range(3)])
    assert got == [Opaque("HenonCell", got[0].module), Opaque("dtype", "torch"),
                   Opaque("range", "builtins")]
    assert display_type(got[0]) == "HenonCell"
    odd = type("a b;c", (), {})()
    assert _through_bytes(odd).type_name == "object"  # not a name it could print


def test_exceptions_arrive_as_their_library_class():
    got = _through_bytes(Failure(ZeroDivisionError("division by zero")))
    assert isinstance(got, Raised) and got.type_name == "ZeroDivisionError"
    assert got.is_a("ArithmeticError") and got.message == "division by zero"
    assert got.original is None
    runtime = _through_bytes(Failure(torch.linalg.LinAlgError("singular")))
    assert runtime.is_a("RuntimeError") and runtime.message == "singular"
    assert runtime.type_name == "RuntimeError"  # a private class: named by its base


def test_a_students_exception_class_is_named_by_its_builtin_base():
    leak = type("Leak_40_5_5_float32", (ValueError,), {})
    got = _through_bytes(Failure(leak("secret")))
    assert got.type_name == "ValueError" and "Leak" not in str(got.names)
    forged = type("InvalidArgumentError", (Exception,), {"__module__": "tensorflow.x"})
    assert _through_bytes(Failure(forged())).type_name in ("Exception", "InvalidArgumentError")


def test_messages_and_strings_are_cut():
    got = _through_bytes(Failure(ValueError("x" * 10_000)))
    assert len(got.message) == 2000
    assert len(_through_bytes("y" * 10_000)) == 2000


def test_a_message_that_cannot_be_read_is_replaced():
    class Loud(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert _through_bytes(Failure(Loud())).message == "(the message could not be read)"


def test_roundtrip_keeps_the_students_exception_for_the_notebook():
    error = KeyError("z")
    got = roundtrip({"got": Failure(error), "values": torch.zeros(2)})
    assert got["got"].original is error and got["got"].type_name == "KeyError"
    assert torch.equal(got["values"], torch.zeros(2))


def test_deep_nesting_is_cut_not_a_crash():
    value = []
    for _ in range(200):
        value = [value]
    got = _through_bytes(value)
    depth = 0
    while isinstance(got, list) and got:
        got, depth = got[0], depth + 1
    assert depth <= 40


# ----------------------------------------------------------------- hostile bytes

def _pack_raw(header: dict, blobs=()):
    return pack(header, list(blobs))


@pytest.mark.parametrize("tree, blobs", [
    ({"t": "ndarray", "dtype": "float64", "shape": [3], "b": 0}, [b"\0" * 7]),
    ({"t": "ndarray", "dtype": "object", "shape": [1], "b": 0}, [b"\0" * 8]),
    ({"t": "ndarray", "dtype": "float64", "shape": [-1], "b": 0}, [b""]),
    ({"t": "ndarray", "dtype": "float64", "shape": [1], "b": 5}, [b"\0" * 8]),
    ({"t": "list", "v": [{"t": "ndarray", "dtype": "uint8", "shape": [1], "b": 0},
                         {"t": "ndarray", "dtype": "uint8", "shape": [1], "b": 0}]}, [b"a"]),
    ({"t": "torch", "dtype": "float32", "shape": [2], "device": "cpu", "b": None}, []),
    ({"t": "raised", "type": 3, "names": [], "message": ""}, []),
    ({"t": "dict", "v": [[1, 2]]}, []),
    ({"t": "exec", "v": "import os"}, []),
    ({"t": "str"}, []),
    ([1, 2], []),
    ({"t": "complex", "v": ["1", 2]}, []),
])
def test_malformed_trees_are_refused(tree, blobs):
    with pytest.raises(MalformedObservation):
        decode(tree, blobs)


def test_huge_shapes_never_allocate():
    with pytest.raises(MalformedObservation):
        decode({"t": "ndarray", "dtype": "float64", "shape": [2**39, 2**39], "b": 0}, [b""])


def test_frames_with_lying_lengths_are_refused():
    good = pack({"v": 1}, [b"abc"])
    with pytest.raises(MalformedObservation):
        unpack(_frames(good[:-1]))                      # cut off
    with pytest.raises(MalformedObservation):
        unpack(_frames(b"\xff\xff\xff\x7f\0\0\0\0"))    # a 2 GB header
    with pytest.raises(MalformedObservation):
        unpack(_frames(pack({"v": 1}, [b"x" * 100])), max_bytes=50)
    with pytest.raises(EOFError):
        unpack(_frames(b""))
    with pytest.raises(MalformedObservation):
        unpack(_frames(b"\x05\0\0\0\0\0\0\0notjs"))
    with pytest.raises(MalformedObservation):
        unpack(_frames(b"\x02\0\0\0\0\0\0\0[]"))        # JSON, but not an object


def test_random_corruption_raises_only_malformed():
    rng = random.Random(0)
    tree, blobs = encode({"got": torch.arange(6.0).reshape(2, 3), "e": Failure(ValueError("v")),
                          "x": [np.ones(3), "s", 1.5]})
    frame = bytearray(pack({"v": tree}, blobs))
    header = json.dumps({"v": tree})
    for _ in range(300):
        data = bytearray(frame)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            message, got_blobs = unpack(_frames(bytes(data)))
            decode(message.get("v"), got_blobs)
        except (MalformedObservation, EOFError):
            pass
    assert header  # the loop raised nothing else
