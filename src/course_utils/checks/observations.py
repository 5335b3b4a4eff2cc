"""What a check's probe saw, as plain data: the only thing that travels from a student's
process to the judge.

A probe (see :mod:`course_utils.checks.framework`) calls the student's code and collects
what it returned: values, exceptions, arrays and tensors. :func:`encode` turns that into
a tree of JSON values and a list of byte blobs (the arrays' raw bytes); :func:`decode`
builds it back, and :func:`pack` / :func:`unpack` put both into one byte string. In the
notebook a check sends its observations through this round trip too, so that the judge
sees exactly what it sees in grading.

The decoder reads untrusted bytes: no pickle, no code, only the node kinds below, with
limits on the header, the number of nodes, the depth and the blobs; anything else raises
:class:`MalformedObservation`.

================  =======================================================================
node ``t``        what it holds
================  =======================================================================
(JSON scalar)     ``None``, ``bool``, ``int``, ``float`` (``nan`` and ``inf`` included),
                  ``str`` (cut to :data:`MAX_TEXT` characters)
``list``/``tuple``  the items
``dict``          ``[key, value]`` pairs with string keys
``complex``       ``[re, im]``
``ndarray``       a NumPy array: dtype, shape and a blob
``npscalar``      a NumPy scalar: dtype and a blob
``torch``         a PyTorch tensor: dtype, shape, device, ``requires_grad`` and a blob
                  (none for a tensor without data, on the ``meta`` device)
``tf``            a TensorFlow tensor or variable: dtype, shape and a blob (none for a
                  symbolic tensor)
``raised``        an exception: its class name, the names of its classes, its message
``object``        anything else: only its class name and module
================  =======================================================================
"""

from __future__ import annotations

import builtins
import functools
import json
import math
import re
import struct
import sys
from dataclasses import dataclass, field

import numpy as np

__all__ = ["encode", "decode", "pack", "unpack", "roundtrip", "Failure", "Raised", "Opaque",
           "TFValue", "MalformedObservation", "TooLarge", "display_type", "MAX_TEXT",
           "MAX_BYTES"]

MAX_TEXT = 2000            # characters of a string or an exception message
MAX_HEADER = 1 << 20       # bytes of the JSON tree
MAX_BYTES = 16 << 20       # bytes of all blobs of one message
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_DIMS = 8
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,59}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
#: Modules whose exception classes are shown by their own name (a student's own class is
#: shown as its nearest built-in base class).
_LIBRARIES = ("builtins", "numpy", "torch", "tensorflow", "keras", "scipy")
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"}
_TORCH_ONLY = {"bfloat16"}  # sent as float32 values


class MalformedObservation(ValueError):
    """The bytes are not observations this module wrote: the student's process sent
    something else."""


class TooLarge(MalformedObservation):
    """A frame declares more bytes than the reader accepts."""


class Failure:
    """What a probe keeps when the student's code raised: the exception itself (only in
    the student's process; it travels as a ``raised`` node)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


@dataclass
class Raised:
    """An exception of the student's code, as it arrives at the judge.

    ``type_name`` is safe to show: a class of Python or of a library (NumPy, PyTorch,
    TensorFlow, Keras, SciPy), else the nearest such base class. ``names`` holds the names
    of all those classes of its MRO, for :meth:`is_a`. ``original`` is the exception
    itself where the judge runs in the student's process (the notebook), else None.
    """

    type_name: str
    names: tuple[str, ...]
    message: str
    original: BaseException | None = field(default=None, repr=False, compare=False)

    def is_a(self, *names: str) -> bool:
        return any(n in self.names for n in names)


@dataclass(frozen=True)
class Opaque:
    """Something that is neither a number, a string, a container, an array nor a tensor:
    only its class is known."""

    type_name: str
    module: str = ""


@dataclass
class TFValue:
    """A TensorFlow tensor or variable, as the judge sees it: ``dtype`` is its dtype's name
    (``"float64"``), ``values`` a NumPy array, or None for a symbolic tensor."""

    dtype: str
    shape: tuple
    values: np.ndarray | None
    variable: bool = False

    def numpy(self) -> np.ndarray:
        if self.values is None:
            raise AssertionError("a symbolic TensorFlow tensor has no values")
        return self.values


def display_type(value) -> str:
    """How a message names the type of an observed value (``list``, ``Tensor``,
    ``HenonCell``)."""
    if isinstance(value, Opaque):
        return value.type_name
    if isinstance(value, TFValue):
        return "ResourceVariable" if value.variable else "EagerTensor"
    if isinstance(value, Raised):
        return value.type_name
    return type(value).__name__


# ----------------------------------------------------------------------------- encoding

def _safe_name(name) -> str:
    name = str(name)
    return name if _NAME.match(name) else "object"


def _exception_names(error: BaseException) -> tuple[str, tuple[str, ...]]:
    """(the name to show, the names of the library classes of its MRO)."""
    names = []
    for cls in type(error).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module.split(".")[0] in _LIBRARIES and _NAME.match(cls.__name__ or ""):
            if cls.__name__ not in names:
                names.append(cls.__name__)
    return (names[0] if names else "Exception"), tuple(names)


def _text(value, limit: int = MAX_TEXT) -> str:
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - a student's __str__ may raise anything
        text = "(the message could not be read)"
    return text[:limit]


class _Encoder:
    def __init__(self, originals: list | None):
        self.blobs: list[bytes] = []
        self.nodes = 0
        self.originals = originals

    def blob(self, array: np.ndarray) -> int:
        self.blobs.append(np.ascontiguousarray(array).tobytes())
        return len(self.blobs) - 1

    def __call__(self, value, depth: int = 0):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            return {"t": "object", "type": "too deeply nested", "module": ""}
        if value is None or isinstance(value, bool):
            return value
        if type(value) is int:  # noqa: E721 - subclasses (IntEnum, ...) are objects
            return value if abs(value) < 1 << 63 else float(value)
        if type(value) is float:  # noqa: E721
            return value
        if type(value) is str:  # noqa: E721
            return {"t": "str", "v": value[:MAX_TEXT]}
        if type(value) is complex:  # noqa: E721
            return {"t": "complex", "v": [value.real, value.imag]}
        if isinstance(value, Failure):
            error = value.error
            shown, names = _exception_names(error)
            if self.originals is not None:
                self.originals.append(error)
            return {"t": "raised", "type": shown, "names": list(names),
                    "message": _text(error)}
        if type(value) in (list, tuple):
            return {"t": type(value).__name__,
                    "v": [self(item, depth + 1) for item in value[:10_000]]}
        if type(value) is dict:  # noqa: E721
            return {"t": "dict", "v": [[_text(k, 200), self(v, depth + 1)]
                                       for k, v in list(value.items())[:10_000]]}
        if isinstance(value, np.ndarray):
            if value.dtype.name not in _DTYPES or value.ndim > MAX_DIMS:
                return {"t": "object", "type": "ndarray", "module": "numpy",
                        "dtype": _text(value.dtype, 40)}
            return {"t": "ndarray", "dtype": value.dtype.name, "shape": list(value.shape),
                    "b": self.blob(value)}
        if isinstance(value, np.generic) and value.dtype.name in _DTYPES:
            return {"t": "npscalar", "dtype": value.dtype.name,
                    "b": self.blob(np.asarray(value))}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return self.torch_tensor(torch, value)
        tf = sys.modules.get("tensorflow")
        if tf is not None and (tf.is_tensor(value) or isinstance(value, tf.Variable)):
            return self.tf_tensor(tf, value)
        cls = type(value)
        return {"t": "object", "type": _safe_name(getattr(cls, "__name__", "object")),
                "module": _text(getattr(cls, "__module__", ""), 100)}

    def torch_tensor(self, torch, value):
        if value.layout != torch.strided or value.is_quantized or value.is_nested:
            return {"t": "object", "type": "Tensor", "module": "torch",
                    "layout": _text(value.layout, 40)}
        dtype = str(value.dtype).replace("torch.", "")
        if dtype not in _DTYPES | _TORCH_ONLY or value.dim() > MAX_DIMS:
            return {"t": "object", "type": "Tensor", "module": "torch", "dtype": dtype}
        node = {"t": "torch", "dtype": dtype, "shape": list(value.shape),
                "device": str(value.device), "grad": bool(value.requires_grad), "b": None}
        if value.device.type != "meta":
            data = value.detach().cpu().resolve_conj().resolve_neg()
            if dtype in _TORCH_ONLY:
                data = data.float()
            node["b"] = self.blob(data.numpy())
        return node

    def tf_tensor(self, tf, value):
        dtype = value.dtype.name
        variable = isinstance(value, tf.Variable)
        shape = [None if d is None else int(d) for d in value.shape] \
            if value.shape.rank is not None else None
        node = {"t": "tf", "dtype": dtype, "shape": shape, "variable": variable, "b": None}
        if dtype not in _DTYPES or (shape is not None and len(shape) > MAX_DIMS):
            return {"t": "object", "type": _safe_name(type(value).__name__),
                    "module": "tensorflow", "dtype": _text(dtype, 40)}
        try:
            node["b"] = self.blob(np.asarray(value.numpy()))
        except Exception:  # noqa: BLE001 - a symbolic tensor has no values
            pass
        return node


def encode(value, *, originals: list | None = None) -> tuple[object, list[bytes]]:
    """``value`` as (a JSON-able tree, blobs). ``originals``, if given, receives the
    exceptions of :class:`Failure` nodes in the order they are met (for the notebook's
    round trip, :func:`roundtrip`)."""
    encoder = _Encoder(originals)
    return encoder(value), encoder.blobs


# ----------------------------------------------------------------------------- decoding

class _Decoder:
    def __init__(self, blobs: list[bytes], originals: list | None):
        self.blobs = blobs
        self.used: set[int] = set()
        self.nodes = 0
        self.originals = list(originals or [])

    def fail(self, why: str):
        raise MalformedObservation(why)

    def blob(self, index, dtype: str, shape: list) -> np.ndarray:
        if type(index) is not int or not 0 <= index < len(self.blobs) or index in self.used:
            self.fail("a blob index is missing, repeated or out of range")
        self.used.add(index)
        if type(shape) is not list or len(shape) > MAX_DIMS or not all(
                type(d) is int and 0 <= d < 1 << 31 for d in shape):
            self.fail("an array shape is malformed")
        if math.prod(d for d in shape if d) >= 1 << 40:
            self.fail("an array shape is malformed")
        if dtype not in _DTYPES:
            self.fail("an array's dtype is not allowed")
        data = self.blobs[index]
        count = math.prod(shape)
        if count * np.dtype(dtype).itemsize != len(data):
            self.fail("an array's bytes do not match its shape")
        try:
            return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        except (ValueError, MemoryError):
            self.fail("an array shape is malformed")

    def __call__(self, node, depth: int = 0):
        self.nodes += 1
        if depth > MAX_DEPTH + 1 or self.nodes > MAX_NODES + 10:
            self.fail("too many or too deeply nested nodes")
        if node is None or type(node) in (bool, int, float):
            return node
        if type(node) is not dict or type(node.get("t")) is not str:
            self.fail("a node is not a tagged object")
        kind = node["t"]
        if kind == "str":
            text = node.get("v")
            if type(text) is not str:
                self.fail("a string node holds no string")
            return text[:MAX_TEXT]
        if kind in ("list", "tuple"):
            items = node.get("v")
            if type(items) is not list:
                self.fail("a list node holds no list")
            out = [self(item, depth + 1) for item in items]
            return out if kind == "list" else tuple(out)
        if kind == "dict":
            pairs = node.get("v")
            if type(pairs) is not list or not all(
                    type(p) is list and len(p) == 2 and type(p[0]) is str for p in pairs):
                self.fail("a dict node is malformed")
            return {key: self(value, depth + 1) for key, value in pairs}
        if kind == "complex":
            parts = node.get("v")
            if type(parts) is not list or len(parts) != 2 or not all(
                    type(p) in (int, float) for p in parts):
                self.fail("a complex node is malformed")
            return complex(parts[0], parts[1])
        if kind == "ndarray":
            return self.blob(node.get("b"), node.get("dtype"), node.get("shape"))
        if kind == "npscalar":
            return self.blob(node.get("b"), node.get("dtype"), [])[()]
        if kind == "torch":
            return self.torch_tensor(node)
        if kind == "tf":
            return self.tf_tensor(node)
        if kind == "raised":
            return self.raised(node)
        if kind == "object":
            module = node.get("module", "")
            return Opaque(_safe_name(node.get("type", "object")),
                          module if type(module) is str and _MODULE.match(module) else "")
        self.fail("unknown node kind")

    def torch_tensor(self, node):
        import torch

        dtype, shape, device = node.get("dtype"), node.get("shape"), node.get("device")
        if dtype not in _DTYPES | _TORCH_ONLY or type(device) is not str:
            self.fail("a tensor node is malformed")
        torch_dtype = getattr(torch, dtype)
        if node.get("b") is None:
            if device != "meta" or type(shape) is not list or len(shape) > MAX_DIMS or not all(
                    type(d) is int and 0 <= d < 1 << 31 for d in shape):
                self.fail("a tensor without data that is not on the meta device")
            try:
                return torch.empty(shape, dtype=torch_dtype, device="meta")
            except (RuntimeError, ValueError):
                self.fail("a tensor shape is malformed")
        values = self.blob(node["b"], "float32" if dtype in _TORCH_ONLY else dtype, shape)
        tensor = torch.from_numpy(values).to(torch_dtype)
        target = _device(torch, device)
        if target is not None:
            tensor = tensor.to(target)
        if node.get("grad") is True and (tensor.is_floating_point() or tensor.is_complex()):
            tensor.requires_grad_(True)
        return tensor

    def tf_tensor(self, node):
        dtype, shape = node.get("dtype"), node.get("shape")
        if dtype not in _DTYPES:
            self.fail("a TensorFlow node is malformed")
        if node.get("b") is None:
            if shape is not None and (type(shape) is not list or not all(
                    d is None or (type(d) is int and d >= 0) for d in shape)):
                self.fail("a TensorFlow shape is malformed")
            return TFValue(dtype, None if shape is None else tuple(shape), None,
                           node.get("variable") is True)
        values = self.blob(node["b"], dtype, shape)
        return TFValue(dtype, values.shape, values, node.get("variable") is True)

    def raised(self, node):
        names, message, shown = node.get("names"), node.get("message"), node.get("type")
        if type(names) is not list or not all(type(n) is str for n in names) \
                or type(message) is not str or type(shown) is not str:
            self.fail("an exception node is malformed")
        known = tuple(n for n in names[:64] if _NAME.match(n))
        shown = shown if shown in known else (known[0] if known else "Exception")
        if shown not in _library_names() and not _is_builtin_exception(shown):
            # Keep a library's class name only if it is one of the usual ones; otherwise
            # the nearest built-in base, whose name the student cannot choose.
            shown = next((n for n in known if _is_builtin_exception(n)), "Exception")
        original = self.originals.pop(0) if self.originals else None
        return Raised(shown, known, message[:MAX_TEXT], original)


def _is_builtin_exception(name: str) -> bool:
    cls = getattr(builtins, name, None)
    return isinstance(cls, type) and issubclass(cls, BaseException)


def _library_names() -> frozenset[str]:
    """Exception class names of the libraries that are already imported here (the judge
    never imports a library to name an exception)."""
    loaded = tuple(m for m in ("numpy", "torch", "tensorflow", "keras") if m in sys.modules)
    return _library_names_of(loaded)


@functools.lru_cache(maxsize=None)
def _library_names_of(loaded: tuple[str, ...]) -> frozenset[str]:
    names = set()
    for module_name in loaded:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for holder in (module, getattr(module, "errors", None),
                       getattr(module, "linalg", None)):
            for key, value in vars(holder).items() if holder is not None else ():
                if isinstance(value, type) and issubclass(value, BaseException):
                    names.add(key)
    return frozenset(names)


def _device(torch, name: str):
    """The device to rebuild a tensor on: its own where it exists here, else the CPU."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        return None
    if device.type == "cpu":
        return None
    if device.type == "cuda" and torch.cuda.is_available():
        return device
    return None


def decode(tree, blobs: list[bytes], *, originals: list | None = None):
    """The value that :func:`encode` gave ``tree`` and ``blobs`` for; raises
    :class:`MalformedObservation` on anything else. ``originals`` (the notebook's round
    trip) are attached to the ``raised`` nodes in order."""
    return _Decoder(list(blobs), originals)(tree)


# -------------------------------------------------------------------------------- bytes

_HEAD = struct.Struct("<II")
_BLOB = struct.Struct("<Q")


def pack(message: dict, blobs: list[bytes] = ()) -> bytes:
    """One frame: a JSON header (``message``) and its blobs, with their lengths."""
    header = json.dumps(message, separators=(",", ":")).encode()
    parts = [_HEAD.pack(len(header), len(blobs)), header]
    for blob in blobs:
        parts += [_BLOB.pack(len(blob)), blob]
    return b"".join(parts)


def unpack(read, *, max_bytes: int = MAX_BYTES) -> tuple[dict, list[bytes]]:
    """Read one frame with ``read(n)`` (which returns exactly ``n`` bytes, or fewer at the
    end of the stream). Raises :class:`MalformedObservation` on a malformed frame,
    ``EOFError`` at the end of the stream, and never reads more than the frame's declared
    sizes allow (``max_bytes`` of blobs)."""
    head = read(_HEAD.size)
    if not head:
        raise EOFError
    if len(head) < _HEAD.size:
        raise MalformedObservation("a frame was cut off")
    size, count = _HEAD.unpack(head)
    if size > MAX_HEADER or count > 4096:
        raise MalformedObservation("a frame's header is too large")
    header = read(size)
    if len(header) < size:
        raise MalformedObservation("a frame was cut off")
    try:
        message = json.loads(header.decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedObservation("a frame's header is not JSON") from None
    if type(message) is not dict:
        raise MalformedObservation("a frame's header is not an object")
    blobs, total = [], 0
    for _ in range(count):
        raw = read(_BLOB.size)
        if len(raw) < _BLOB.size:
            raise MalformedObservation("a frame was cut off")
        (length,) = _BLOB.unpack(raw)
        total += length
        if total > max_bytes:
            raise TooLarge(f"more than {max_bytes >> 20} MB of arrays in one message")
        blob = read(length)
        if len(blob) < length:
            raise MalformedObservation("a frame was cut off")
        blobs.append(blob)
    return message, blobs


def roundtrip(value):
    """``value`` through :func:`encode`, :func:`pack`, :func:`unpack` and :func:`decode`,
    as the judge receives it in grading, with the student's exceptions still attached
    (so that the notebook shows their tracebacks)."""
    originals: list = []
    tree, blobs = encode(value, originals=originals)
    data = pack({"v": tree}, blobs)
    offset = 0

    def read(n):
        nonlocal offset
        chunk = data[offset:offset + n]
        offset += n
        return chunk

    message, blobs = unpack(read, max_bytes=1 << 62)
    return decode(message["v"], blobs, originals=originals)
