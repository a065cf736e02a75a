"""Training data as the engine sees it: rows of ``X``, float32, resident or streamed."""

import mmap

import numpy as np
import scipy.sparse as sp

# A float32 copy of the training rows stays on the device (one upload per fit, shuffled
# there every epoch) when it takes at most this much memory; larger data, sparse matrices
# and memory-mapped arrays stream instead, in chunks of STREAM_CHUNK_BYTES, each trained in
# one compiled call. 60,000 MNIST images take 188 MB.
RESIDENT_BYTES = 2**30
STREAM_CHUNK_BYTES = 64 * 2**20
# Float64 (or sparse) rows are cast to float32 a slice of at most this many bytes at a time:
# building the float32 copy of 60,000 float64 MNIST images peaked 0.3 MB above the copy itself
# with slices of 1 MiB, 37 MB above it with slices of 4,096 rows (25 MB each).
CAST_SLICE_BYTES = 2**20

# batch_size='auto', from full default fits on 2 CPU cores (benchmarks/defaults.py, two seeds):
# on digits (1,347 rows, 21 steps per epoch at 64) 128 ended level with 64 for one seed and 9%
# worse for the other, 256 worse for both; on 8,000 MNIST rows 128 (62 steps) ended 3-4% below
# 64 in held-out error for both seeds, and 256 (31 steps) took longest to come within 5% of the
# best. Larger batches use the hardware better, so 'auto' takes the largest batch that leaves
# at least 50 steps per epoch.
AUTO_BATCH_SIZES = (64, 128, 256)
AUTO_MIN_STEPS_PER_EPOCH = 50


# epochs='auto': enough epochs for about AUTO_STEPS optimizer steps, within AUTO_EPOCHS.
# 2,500 steps of the cosine schedule (40 epochs of 8,000 MNIST images at batch 128) took
# StackedAE to 0.42x PCA's held-out MSE at 32 components (benchmarks/time_to_quality.py);
# 60,000 images (235 steps per epoch) get 11 epochs. Small data overfit with more passes:
# on standardized breast-cancer rows (426, 7 steps) 300 epochs ended at 1.00-1.09x PCA's
# held-out MSE at 2-8 components, 100 at 0.83-0.92x, 50 at 0.83-0.88x (wine at 8: 1.004x).
AUTO_STEPS = 2500
AUTO_EPOCHS = (10, 100)


def resolve_epochs(epochs, n_rows, batch_size):
    """The number of epochs: ``'auto'`` made concrete for ``n_rows`` rows in ``batch_size``."""
    if epochs != "auto":
        return int(epochs)
    steps_per_epoch = -(-n_rows // batch_size)
    low, high = AUTO_EPOCHS
    return int(min(high, max(low, -(-AUTO_STEPS // steps_per_epoch))))


def resolve_batch_size(batch_size, n_rows):
    """The mini-batch size for ``n_rows`` training rows: ``'auto'`` made concrete, capped."""
    if batch_size == "auto":
        fitting = [b for b in AUTO_BATCH_SIZES if n_rows >= AUTO_MIN_STEPS_PER_EPOCH * b]
        batch_size = max(fitting, default=AUTO_BATCH_SIZES[0])
    return max(1, min(int(batch_size), n_rows))


def dense_rows(X, rows, dtype="float32"):
    """``X[rows]`` as a dense array of ``dtype``; densifies sparse rows only."""
    block = X[rows]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=dtype)


# TensorFlow aborts the process (a failed CHECK, not an exception) on a tensor whose buffer is
# not aligned to EIGEN_MAX_ALIGN_BYTES (64 with AVX-512); NumPy's buffers are 16-byte aligned.
ALIGNMENT = 4096


def aligned_empty(shape, dtype):
    """An uninitialised C-contiguous array whose data start on an ``ALIGNMENT`` boundary."""
    dtype = np.dtype(dtype)
    n_bytes = int(np.prod(shape)) * dtype.itemsize
    buffer = np.empty(n_bytes + ALIGNMENT, dtype=np.uint8)
    offset = -buffer.ctypes.data % ALIGNMENT
    return buffer[offset : offset + n_bytes].view(dtype).reshape(shape)


def is_memory_mapped(X):
    """Whether ``X`` (or the array it views) lives in a memory-mapped file."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


class TrainingRows:
    """Rows ``rows`` of ``X`` (with integer ``targets`` aligned to ``X``'s rows, or the inputs
    themselves as targets) to train or evaluate on, in mini-batches of ``batch_size``.

    ``weights`` (non-negative, aligned to ``X``'s rows) weight each row's loss. They are
    rescaled to mean 1 over ``rows``, so that a batch's loss ``mean(w * loss)`` estimates
    without bias ``sum(w * loss) / sum(w)`` over all the rows, the loss of the data with each
    row repeated in proportion to its weight. Equal weights are then all exactly 1, and are
    dropped (``self.weights`` is None): they train on the unweighted path, with the same
    results.

    ``resident`` says whether a float32 copy goes to the device whole (``RESIDENT_BYTES``);
    otherwise ``chunks`` yields consecutive pieces of an epoch's order, each a whole number
    of batches, so that streamed and resident data train on exactly the same batches.
    """

    def __init__(self, X, rows, batch_size, *, targets=None, weights=None, shuffle=False):
        self.X = X
        self.rows = np.asarray(rows)
        self.batch_size = int(batch_size)
        self.targets = targets
        self.weights = _mean_one_weights(weights, self.rows)
        self.shuffle = shuffle
        row_bytes = 4 * int(np.prod(X.shape[1:]))
        self.resident = (
            not sp.issparse(X)
            and not is_memory_mapped(X)
            and len(self.rows) * row_bytes <= RESIDENT_BYTES
        )
        per_chunk = max(1, STREAM_CHUNK_BYTES // max(row_bytes, 1) // self.batch_size)
        self.chunk_rows = per_chunk * self.batch_size

    def __len__(self):
        return len(self.rows)

    def inputs(self, positions=None, *, aligned=False):
        """Float32 inputs of the rows at ``positions`` (default: all), built chunk by chunk
        so that float64 data never has a second full-size float64 copy; ``aligned`` puts
        them at the start of a memory page (see :func:`aligned_empty`)."""
        rows = self.rows if positions is None else self.rows[positions]
        shape = (len(rows), *self.X.shape[1:])
        out = aligned_empty(shape, np.float32) if aligned else np.empty(shape, np.float32)
        # Rows per densified, cast slice: its transient copies stay near CAST_SLICE_BYTES.
        row_bytes = max(1, self.X.dtype.itemsize * int(np.prod(self.X.shape[1:])))
        step = max(1, CAST_SLICE_BYTES // row_bytes)
        for begin in range(0, len(rows), step):
            out[begin : begin + step] = dense_rows(self.X, rows[begin : begin + step])
        return out

    def labels(self, positions=None):
        """Integer targets of the rows at ``positions`` (None when inputs are the targets)."""
        if self.targets is None:
            return None
        rows = self.rows if positions is None else self.rows[positions]
        return np.asarray(self.targets[rows], dtype=np.int32)

    def row_weights(self, positions=None):
        """Float32 weights of the rows at ``positions`` (None when unweighted)."""
        if self.weights is None:
            return None
        return self.weights if positions is None else self.weights[positions]

    def chunks(self, order):
        """``(inputs, labels, weights)`` for consecutive pieces of ``order`` (positions
        into ``rows``), each of ``chunk_rows`` rows but the last."""
        for start in range(0, len(order), self.chunk_rows):
            positions = order[start : start + self.chunk_rows]
            yield self.inputs(positions), self.labels(positions), self.row_weights(positions)


def _mean_one_weights(weights, rows):
    """``weights[rows]`` as float32 scaled to mean 1, or None where they are all equal."""
    if weights is None or len(rows) == 0:
        return None
    weights = np.asarray(weights, dtype=np.float64)[rows]
    if np.all(weights == weights[0]):
        return None
    weights = weights / weights.max()  # first to at most 1: the mean cannot overflow
    return (weights / weights.mean()).astype(np.float32)
