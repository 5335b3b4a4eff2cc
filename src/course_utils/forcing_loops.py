"""The loops of the fused forced pass of the shallow PLRNN, in NumPy, and a helper process
that runs half of each batch on a second core.

:class:`course_utils.training._FusedForcing` (the fast STF and GTF training passes) keeps
its arrays in a :class:`Workspace`, shapes ``(T, B, .)``, and calls :func:`run_forward` and
:func:`run_backward`:

* the forward loop, per step t: z~_t = (1 - w_t) z_t + w_t x_t on the observed units (a
  copy where w_t = 1), H[t] = relu(W2 z~_t + h2), z_{t+1} = A * z~_t + W1 H[t] + h1;
* the backward loop, per step from the last: D[t] = dL/dz_{t+1} (the read-out gradient
  added), G[t] = (W1^T D[t]) masked by the active hidden units, and dL/dz~_t carried back
  through W2 and A, times 1 - w_t on the observed units;
* the parameter gradients, sums over all steps and sequences as four large products.

Each step is a handful of NumPy calls on matrices of B x M and B x L, so the time goes
half to the arithmetic and half to the calls. The sequences of a batch are independent,
so where there are two cores a helper process runs the loops of the second half of the
batch while this one runs the first, on the same workspace in shared memory (a Linux
``memfd``), and then computes half of the parameter gradients. Every row of a matrix
product comes out the same whether the product has 16 rows or 32 (one BLAS thread, the
same kernel), so the results are bit for bit those of one process, and a helper that
cannot start, or dies, only costs time: its rows are computed here.

The helper is started once a process has run ``HELPER_AFTER_PASSES`` passes that are
large enough (``HELPER_MIN_WORK``), so that a check or a test that runs a few never starts
it, and used once it has loaded NumPy, for the passes where it is the faster way
(``_Choice``: on two idle cores it is; with the other core busy one process alone is); it
ends with its parent. The environment variable ``COURSE_FUSED_HELPER`` set to 0 switches
it off, set to 1 uses it for every pass large enough, whatever it costs (tests,
benchmarks). This module imports only NumPy and the standard library (the helper imports
it alone).
"""

from __future__ import annotations

import atexit
import itertools
import mmap
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path

import numpy as np

__all__ = ["Workspace", "run_forward", "run_backward", "forward_rows", "backward_rows",
           "HELPER_MIN_WORK"]

#: A pass uses the helper process when T * B * L is at least this (chapter 03's batches of
#: 32 x 200 steps with L = 200 are 1,280,000; for much smaller ones the messages cost more
#: than half of the loops).
HELPER_MIN_WORK = 200_000

#: A process starts the helper only after this many passes that large: a training runs tens
#: of thousands, while a check or a test that runs a few would pay more for starting it
#: (about 0.2 s of a core) than it saves.
HELPER_AFTER_PASSES = 50

_ALIGN = 64
_ids = itertools.count(1)


class Workspace:
    """The arrays of one fused pass for batches of B sequences of T steps, a model with M
    latent, L hidden and N observed units, in ``dtype``: the inputs (xs, the forcing
    weights, the parameters), the states Z (T + 1: the forced state entering each step and
    the last), the hidden activations H and their mask, the gradients D and G, the padded
    read-out gradients, w_t x_t padded (GTF), the read-outs and the parameter gradients.
    ``shared=True`` puts them in one shared-memory file (Linux ``memfd``) that the helper
    process maps too. Passes reuse a workspace: new arrays of several MB at every pass
    would cost a page fault per 4 kB, about 2 ms per update at the chapters' sizes."""

    def __init__(self, T, B, M, L, N, dtype, *, shared=False, fd=None):
        dtype = np.dtype(dtype)
        self.shape = (T, B, M, L, N, dtype.itemsize)
        self.uid = next(_ids)
        layout = [("xs", (T, B, N), dtype), ("weights", (T,), np.float64),
                  ("a", (M,), dtype), ("b1", (M,), dtype), ("b2", (L,), dtype),
                  ("w1", (M, L), dtype), ("w2", (L, M), dtype), ("w1t", (L, M), dtype),
                  ("w2t", (M, L), dtype), ("Z", (T + 1, B, M), dtype),
                  ("H", (T, B, L), dtype), ("active", (T, B, L), np.bool_),
                  ("D", (T, B, M), dtype), ("G", (T, B, L), dtype),
                  ("grad_read", (T, B, M), dtype), ("c", (T, B, M), dtype),
                  ("out", (T, B, N), dtype), ("gA", (M,), dtype), ("gW1", (M, L), dtype),
                  ("gW2", (L, M), dtype), ("gh1", (M,), dtype), ("gh2", (L,), dtype)]
        offsets, size = [], 0
        for _, shape, dt in layout:
            offsets.append(size)
            size += -(-int(np.prod(shape)) * np.dtype(dt).itemsize // _ALIGN) * _ALIGN
        self.choice, self.split, self.seconds = _Choice(), False, 0.0
        self.fd = None
        if shared and fd is None:
            try:
                fd = os.memfd_create("course-fused-pass", os.MFD_CLOEXEC)
                os.ftruncate(fd, size)
            except OSError:                # e.g. a sandbox without it: not shared
                if fd is not None:
                    os.close(fd)
                fd = None
        if fd is not None:
            self.fd = fd
            self._buffer = mmap.mmap(fd, size)           # zero-filled when new
        else:
            self._buffer = bytearray(size)                # zero-filled
        raw = np.frombuffer(self._buffer, dtype=np.uint8)
        for (name, shape, dt), start in zip(layout, offsets):
            count = int(np.prod(shape)) * np.dtype(dt).itemsize
            setattr(self, name, raw[start:start + count].view(dt).reshape(shape))

    def close(self):
        """Release the arrays' memory (the arrays must no longer be used)."""
        for name in list(vars(self)):
            if isinstance(getattr(self, name), np.ndarray):
                delattr(self, name)
        if isinstance(self._buffer, mmap.mmap):
            self._buffer.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        try:
            self.close()
        except (BufferError, OSError, AttributeError):
            pass


def _rows(B, *vectors):
    """Each vector repeated as B contiguous rows, so that the loops add it without
    broadcasting."""
    return tuple(np.ascontiguousarray(np.broadcast_to(v, (B, v.shape[0]))) for v in vectors)


def forward_rows(ws: Workspace, r0: int, r1: int) -> None:
    """The forced forward pass of the sequences r0 .. r1 - 1 of the batch, in place in
    ``ws``: Z[t] becomes the state entering step t after the forcing (Z[0] starts at
    zero), H[t] = relu(W2 z~_t + h2), Z[t + 1] = A * z~_t + W1 H[t] + h1, and ``out`` the
    read-outs z_{t+1}[:N].

    Each step writes straight into the workspace: two matrix products with ``out=`` and
    five element-wise calls. The forcing of step t + 1 changes Z[t + 1] in place, so the
    read-out z_{t+1}[:N] is copied first at those steps; the others are read off Z after
    the loop. A step forced with 0 < w_t < 1 computes z~_t = s * z_t + c_t with s =
    (1 - w_t) on the observed units and 1 on the others and c_t = w_t x_t padded with
    zeros: the same two roundings as (1 - w_t) z_t[:N] + w_t x_t.
    """
    T, B, M, L, N, _ = ws.shape
    n = r1 - r0
    xs, Z, H, out = ws.xs[:, r0:r1], ws.Z[:, r0:r1], ws.H[:, r0:r1], ws.out[:, r0:r1]
    a, b1, b2 = _rows(n, ws.a, ws.b1, ws.b2)
    w1t, w2t = ws.w1t, ws.w2t
    tmp = np.empty((n, M), dtype=xs.dtype)
    weights = ws.weights
    steps = weights.tolist()
    scale, c = {}, ws.c[:, r0:r1]
    if any(0.0 < w < 1.0 for w in steps):
        np.multiply(weights.astype(xs.dtype)[:, None, None], xs, out=c[:, :, :N])
        for w in set(steps):
            scale[w] = np.ones((n, M), dtype=xs.dtype)
            scale[w][:, :N] = 1.0 - w
    Z[0] = 0.0
    for t, w in enumerate(steps):
        zt = Z[t]
        if w > 0.0:
            if t:
                out[t - 1] = zt[:, :N]
            if w == 1.0:
                zt[:, :N] = xs[t]
            else:
                zt *= scale[w]
                zt += c[t]
        h = H[t]
        np.matmul(zt, w2t, out=h)
        h += b2
        np.maximum(h, 0.0, out=h)
        z = Z[t + 1]
        np.matmul(h, w1t, out=z)
        z += b1
        np.multiply(a, zt, out=tmp)
        z += tmp
    free = np.append(weights[1:] == 0.0, True)     # steps whose next state is not forced
    out[free] = Z[1:][free][:, :, :N]


def backward_rows(ws: Workspace, r0: int, r1: int) -> None:
    """Backpropagation through time for the sequences r0 .. r1 - 1, in place in ``ws``:
    from the padded read-out gradients, D[t] = dL/dz_{t+1} and G[t] = dL/d(W2 z~_t + h2)
    (masked by the active hidden units). The forcing at step t scales the gradient through
    the observed units by 1 - w_t, folded into the columns of W2 and the entries of A that
    reach them (one scaled pair per distinct weight). Six calls per step."""
    T, B, M, L, N, _ = ws.shape
    n = r1 - r0
    D, G, active = ws.D[:, r0:r1], ws.G[:, r0:r1], ws.active[:, r0:r1]
    grad_read = ws.grad_read[:, r0:r1]
    np.greater(ws.H[:, r0:r1], 0.0, out=active)
    a, w1, w2 = ws.a, ws.w1, ws.w2
    scale = np.ones(M, dtype=a.dtype)
    scaled = {}
    weights = ws.weights
    for w in np.unique(weights).tolist():
        scale[:N] = 1.0 - w
        scaled[w] = (w2 * scale, *_rows(n, a * scale))
    dz = np.zeros((n, M), dtype=a.dtype)
    tmp = np.empty((n, M), dtype=a.dtype)
    for t, w in zip(range(T - 1, -1, -1), weights[::-1].tolist()):
        d = D[t]
        np.add(dz, grad_read[t], out=d)
        g = G[t]
        np.matmul(d, w1, out=g)
        g *= active[t]
        w2_t, a_t = scaled[w]
        np.matmul(g, w2_t, out=dz)
        np.multiply(a_t, d, out=tmp)
        dz += tmp


def _gradients_of_A_W1_h1(ws):
    T, B, M, L, N, _ = ws.shape
    D2, Z2 = ws.D.reshape(-1, M), ws.Z[:T].reshape(-1, M)
    ws.gA[...] = np.einsum("km,km->m", D2, Z2)
    ws.gW1[...] = D2.T @ ws.H.reshape(-1, L)
    ws.gh1[...] = D2.sum(axis=0)


def _gradients_of_W2_h2(ws):
    T, B, M, L, N, _ = ws.shape
    G2 = ws.G.reshape(-1, L)
    ws.gW2[...] = G2.T @ ws.Z[:T].reshape(-1, M)
    ws.gh2[...] = G2.sum(axis=0)


def run_forward(ws: Workspace) -> None:
    """The forward loop over the whole batch of ``ws``: the second half on the helper
    process where there is one and it is the faster way (the first half here meanwhile),
    else all here. The way chosen holds for the backward pass that follows."""
    ws.split = _helper_for(ws, choose=True) is not None
    start = time.perf_counter()
    ws.split = _split(ws, _FORWARD, forward_rows)
    ws.seconds = time.perf_counter() - start


def run_backward(ws: Workspace) -> None:
    """The backward loop over the whole batch of ``ws`` and the parameter gradients
    (gA, gW1, gW2, gh1, gh2), split with the helper process as :func:`run_forward` was:
    the loops by halves of the batch, then the gradients of A, W1 and h1 there and of W2
    and h2 here."""
    start = time.perf_counter()
    split = _split(ws, _BACKWARD, backward_rows)
    if split and _helper.start(ws, _GRADIENTS, 0, 0):
        _gradients_of_W2_h2(ws)
        if not _helper.finish():
            _gradients_of_A_W1_h1(ws)
    else:
        _gradients_of_A_W1_h1(ws)
        _gradients_of_W2_h2(ws)
    if split == ws.split:
        ws.choice.record(split, ws.seconds + time.perf_counter() - start)
    ws.split = split


def _split(ws, op, loop) -> bool:
    """Run ``loop`` over the batch, the second half on the helper if ``ws.split`` says so
    and it is there; return whether it took part."""
    B = ws.shape[1]
    mid = B // 2
    helper = _helper_for(ws) if ws.split else None
    if helper is None or not helper.start(ws, op, mid, B):
        loop(ws, 0, B)
        return False
    loop(ws, 0, mid)
    if not helper.finish():
        loop(ws, mid, B)
        return False
    return True


class _Choice:
    """Whether to split a pass with the helper, by what it has cost: the median time of
    the loops (forward and backward) of the last ``KEPT`` passes each way, the faster way
    taken, and every ``EXPLORE``-th pass the other way, to notice when the machine
    changes. On two idle cores the split is the faster; with the other core busy the
    helper waits for it, and one process alone is faster. Both ways give the same numbers
    bit for bit."""

    EXPLORE = 100
    KEPT = 5

    def __init__(self):
        self.times = {True: deque(maxlen=self.KEPT), False: deque(maxlen=self.KEPT)}
        self.passes = 0

    def wants_helper(self) -> bool:
        self.passes += 1
        split, alone = self.times[True], self.times[False]
        if not split or not alone:
            return not split                # try the helper first, then one process alone
        best = float(np.median(split)) <= float(np.median(alone))
        return (not best) if self.passes % self.EXPLORE == 0 else best

    def record(self, split: bool, seconds: float) -> None:
        self.times[split].append(seconds)


# --- the helper process -----------------------------------------------------------------

_MAP, _FORWARD, _BACKWARD, _GRADIENTS, _READY, _OK, _UNKNOWN, _ERROR = range(8)
_MESSAGE = struct.Struct("<10q")        # op, uid, r0, r1, T, B, M, L, N, itemsize
_MAPPED = 8                             # workspaces the helper keeps mapped
_PATIENCE = 120.0                       # seconds to wait for the helper before giving up


def _switched_off() -> bool:
    return os.environ.get("COURSE_FUSED_HELPER", "").strip() == "0"


def _always() -> bool:
    return os.environ.get("COURSE_FUSED_HELPER", "").strip() == "1"


def _helper_wanted(T, B, L) -> bool:
    """Whether a pass of this size should use the helper process (see the module
    docstring)."""
    if _switched_off():
        return False
    if not (hasattr(os, "memfd_create") and hasattr(socket, "send_fds")
            and hasattr(os, "sched_getaffinity")):
        return False
    return B >= 2 and T * B * L >= HELPER_MIN_WORK and len(os.sched_getaffinity(0)) >= 2


class _Helper:
    """The helper process and its socket (one per process; a forked child starts its own).
    ``start`` sends an operation on rows of a workspace and returns False if the helper is
    not there (yet, or any more); ``finish`` waits for it and returns False if it failed,
    in which case the caller computes those rows itself. The lock is held from ``start``
    to ``finish``, so threads take turns."""

    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.ready = self.broken = False
        self.served = 0                     # operations the helper has done
        self.mapped = OrderedDict()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        root = str(Path(__file__).resolve().parents[1])
        code = (f"import sys; sys.path.insert(0, {root!r}); "
                f"from course_utils.forcing_loops import _serve; _serve({theirs.fileno()})")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                                         pass_fds=(theirs.fileno(),),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except OSError:
            self.proc, self.broken = None, True
        finally:
            theirs.close()

    def _is_ready(self) -> bool:
        if not self.ready and not self.broken:
            try:
                data = self.sock.recv(_MESSAGE.size, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:
                data = b""
            if data and _MESSAGE.unpack(data)[0] == _READY:
                self.ready = True
            else:
                self.broken = True
        return self.ready and not self.broken

    def _send(self, ws, op, r0, r1, fds=()):
        message = _MESSAGE.pack(op, ws.uid, r0, r1, *ws.shape)
        socket.send_fds(self.sock, [message], list(fds)) if fds else self.sock.send(message)

    def start(self, ws, op, r0, r1) -> bool:
        self.lock.acquire()
        try:
            if not self._is_ready():
                self.lock.release()
                return False
            self.request = (ws, op, r0, r1)
            if ws.uid not in self.mapped:
                self._send(ws, _MAP, 0, 0, fds=[ws.fd])
                self.mapped[ws.uid] = None
                while len(self.mapped) > _MAPPED:
                    self.mapped.popitem(last=False)
            self._send(ws, op, r0, r1)
            return True
        except OSError:
            self.broken = True
            self.lock.release()
            return False

    def stop(self):
        """Mark the helper broken and end its process (its rows are computed here)."""
        self.broken = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        """End the helper at exit: closing the socket ends its loop."""
        if self.pid != os.getpid():         # a forked child: the helper is its parent's
            return
        self.sock.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def finish(self) -> bool:
        try:
            self.sock.settimeout(_PATIENCE)
            while True:
                reply = _MESSAGE.unpack(self.sock.recv(_MESSAGE.size))[0]
                if reply == _OK:
                    self.served += 1
                    self.mapped.move_to_end(self.request[0].uid)
                    return True
                if reply == _UNKNOWN:                 # evicted over there: map it again
                    ws, op, r0, r1 = self.request
                    self._send(ws, _MAP, 0, 0, fds=[ws.fd])
                    self._send(ws, op, r0, r1)
                    continue
                if reply == _MAP:                     # the reply to a map message
                    continue
                self.stop()
                return False
        except (OSError, struct.error):       # gone, or silent for _PATIENCE seconds
            self.stop()
            return False
        finally:
            self.sock.settimeout(None)
            self.lock.release()


_helper = None
_helper_lock = threading.Lock()
_passes: dict = {}              # process id -> large passes so far (HELPER_AFTER_PASSES)


def _helper_for(ws, choose=False):
    """The running helper process if this workspace is shared and wants one (with
    ``choose``, for a new pass, if it is the faster way: ``_Choice``), else None."""
    global _helper
    if ws.fd is None or _switched_off():
        return None
    if choose and not _always():
        _passes[os.getpid()] = passes = _passes.get(os.getpid(), 0) + 1
        if passes <= HELPER_AFTER_PASSES or not ws.choice.wants_helper():
            return None
    with _helper_lock:
        if _helper is None or _helper.pid != os.getpid():
            _helper = _Helper()
            atexit.register(_helper.close)
        return None if _helper.broken else _helper


def shared_workspace_wanted(T, B, L) -> bool:
    """Whether a new workspace for passes of this size should be shared with the helper."""
    return _helper_wanted(T, B, L)


def _serve(fd: int) -> None:
    """The helper process: map the workspaces it is sent, run the operations it is asked
    for on them, reply to each; end when the parent closes the socket."""
    np.seterr(all="ignore")             # overflow is the training loop's to report
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # an interrupt is for the parent
    sock = socket.socket(fileno=fd)
    sock.send(_MESSAGE.pack(_READY, *[0] * 9))
    spaces = OrderedDict()
    operations = {_FORWARD: forward_rows, _BACKWARD: backward_rows,
                  _GRADIENTS: lambda ws, r0, r1: _gradients_of_A_W1_h1(ws)}
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, _MESSAGE.size, 1)
        except OSError:
            return
        if not data:
            return
        op, uid, r0, r1, T, B, M, L, N, itemsize = _MESSAGE.unpack(data)
        try:
            if op == _MAP:
                dtype = {4: np.float32, 8: np.float64}[itemsize]
                spaces[uid] = Workspace(T, B, M, L, N, dtype, fd=fds[0])
                while len(spaces) > _MAPPED:
                    spaces.popitem(last=False)[1].close()
                sock.send(_MESSAGE.pack(_MAP, *[0] * 9))
                continue
            if uid not in spaces:
                sock.send(_MESSAGE.pack(_UNKNOWN, *[0] * 9))
                continue
            spaces.move_to_end(uid)
            operations[op](spaces[uid], r0, r1)
            reply = _OK
        except Exception:              # noqa: BLE001 - the parent computes the rows itself
            reply = _ERROR
        sock.send(_MESSAGE.pack(reply, *[0] * 9))
