"""Helpers shared by the estimators: seeds, batching, inference, archives."""

import io
import os
import tempfile
import zipfile
from numbers import Integral

import keras
import numpy as np
import scipy.sparse as sp

from ._layers import TiedDense

# Rows per inference chunk: large enough to keep matmuls efficient, small
# enough that a chunk of a sparse matrix densified as float32 stays small.
INFERENCE_CHUNK = 4096


def seed_from_random_state(random_state):
    """An integer seed from ``random_state`` without touching global state.

    A ``RandomState`` instance is copied before drawing, so the caller's
    generator is not advanced; ``None`` draws fresh OS entropy rather than
    consuming NumPy's global generator.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        state = np.random.RandomState()
        state.set_state(random_state.get_state())
        return int(state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a numpy RandomState; got {random_state!r}."
    )


class SeedStream:
    """Distinct, reproducible integer seeds for the random pieces of a network."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def __call__(self):
        return int(self._rng.integers(np.iinfo(np.int32).max))


def steps_per_execution(n_rows, batch_size):
    """Training steps per call into the backend for ``n_rows`` rows.

    Several steps per call made epochs of small networks 1.5-2x faster (Keras's
    per-step dispatch costs more than their arithmetic), but tracing the
    multi-step loop costs more than it saves when an epoch has few steps.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Keras 3.15 cannot run several steps per call under a tf.distribute strategy
        # ("You must feed a value for placeholder tensor").
        if tf.distribute.has_strategy():
            return 1
    elif keras.backend.backend() == "torch":
        return 1  # Keras's PyTorch trainer refuses steps_per_execution > 1
    steps_per_epoch = -(-n_rows // batch_size)
    return int(min(32, max(1, steps_per_epoch // 4)))


# Steps per call of skae's own XLA step loop. Keras's TensorFlow trainer calls each compiled
# step on its own, about 3 ms a call on 2 cores (one-off interleaved run, batch 128, ms per step:
# a hand-written step called per step 10.5, eight per call 7.0; Keras's fit 10.6, this loop
# 7.6-8.8). Eight steps leave under 0.4 ms of it per step; benchmarks/speed.py keeps the score.
XLA_LOOP_MAX_STEPS = 8


def runs_own_step_loop(jit_compile):
    """Whether skae, not Keras, runs the several training steps of one call.

    Keras's TensorFlow trainer calls each XLA-compiled step on its own, however
    many ``steps_per_execution`` it runs per call, and pays for the call at
    every step. skae runs the steps of a call in one XLA ``while`` loop
    (``fit_keras_model``) when the network is compiled with XLA on TensorFlow
    without a distribution strategy.
    """
    if jit_compile is not True or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.distribute.has_strategy()


def keras_steps_per_execution(jit_compile, n_rows, batch_size):
    """The ``steps_per_execution`` to give ``Model.compile``: 1 where skae loops the steps."""
    return 1 if runs_own_step_loop(jit_compile) else steps_per_execution(n_rows, batch_size)


def training_batches(model, X, rows, batch_size, *, shuffle, seed, batches=None):
    """The sequence that ``fit_keras_model`` trains ``model`` on.

    Each item is one batch, or, when skae runs several steps per call
    (``runs_own_step_loop``), the rows of up to ``XLA_LOOP_MAX_STEPS``
    consecutive batches, which the step loop splits again: the steps, and so
    the training, are the same. ``batches`` makes the sequence from ``X``,
    ``rows``, rows per item, ``shuffle`` and ``seed`` (``BatchSequence`` unless
    given).
    """
    batches = BatchSequence if batches is None else batches
    steps = 1
    if runs_own_step_loop(model.jit_compile) and model.steps_per_execution == 1:
        # The loop compiles one step however many it runs, so short epochs gain too.
        steps = max(1, min(XLA_LOOP_MAX_STEPS, len(rows) // batch_size))
    sequence = batches(X, rows, batch_size * steps, shuffle=shuffle, seed=seed)
    sequence.rows_per_step = batch_size if steps > 1 else None
    sequence.steps_per_item = steps
    return sequence


def fit_keras_model(model, train, **fit_params):
    """``model.fit(train, **fit_params)``, in skae's XLA step loop when items hold several steps.

    The loop is ``model.train_function`` only during the fit, so that a later
    ``model.fit`` or ``train_on_batch`` of the user's own batches takes one
    step per batch, as in Keras. Between fits it is kept on the model with
    its traces, as Keras keeps its own, until ``compile`` makes it stale.
    """
    if train.rows_per_step is None:
        return model.fit(train, **fit_params)
    shape = (train.rows_per_step, train.steps_per_item)
    loop = getattr(model, "_skae_step_loop", None)
    # Keras's compile makes a new loss tracker: a loop traced before it is stale.
    if loop is None or loop.shape != shape or loop.loss_tracker is not model._loss_tracker:
        loop = xla_step_loop(model, *shape)
        model._skae_step_loop = loop
    keras_function, model.train_function = model.train_function, loop
    try:
        return model.fit(train, **fit_params)
    finally:
        model.train_function = keras_function


def xla_step_loop(model, batch_size, steps_per_item):
    """A ``train_function`` that runs the steps of an item of ``steps_per_item`` batches of
    ``batch_size`` rows in one XLA call."""
    import tensorflow as tf

    item_rows = batch_size * steps_per_item

    @tf.function(jit_compile=True, autograph=False)
    def train_steps(data, n_steps):
        batches = tf.nest.map_structure(
            lambda t: tf.reshape(t, (steps_per_item, batch_size, *t.shape[1:])), data
        )

        def step(i):
            model.train_step(tf.nest.map_structure(lambda t: t[i], batches))
            return (i + 1,)

        # A tensor bound: the last item of an epoch, padded, runs in the same compiled loop.
        tf.while_loop(lambda i: i < n_steps, step, (tf.constant(0),))
        return model.get_metrics_result()

    one_step = tf.function(model.train_step, jit_compile=True, autograph=False)

    def train_function(iterator):
        item = iterator.get_next_as_optional()
        if not item.has_value():
            raise StopIteration
        data = item.get_value()
        n_rows = int(tf.nest.flatten(data)[0].shape[0])
        if n_rows == item_rows:
            return train_steps(data, tf.constant(steps_per_item))
        # The last item: its whole batches padded to a full item (the padding is never
        # trained on), then the rows left over as one step, as Keras would take them.
        n_steps, remainder = divmod(n_rows, batch_size)
        if n_steps:
            whole = tf.nest.map_structure(
                lambda t: tf.pad(
                    t[: n_steps * batch_size],
                    [(0, item_rows - n_steps * batch_size)] + [(0, 0)] * (len(t.shape) - 1),
                ),
                data,
            )
            logs = train_steps(whole, tf.constant(n_steps))
        if remainder:
            logs = one_step(tf.nest.map_structure(lambda t: t[n_steps * batch_size :], data))
        return logs

    train_function.shape = (batch_size, steps_per_item)
    train_function.loss_tracker = model._loss_tracker
    return train_function


# batch_size='auto', from full default fits on 2 CPU cores (benchmarks/defaults.py, two seeds):
# on digits (1,347 rows, 21 steps per epoch at 64) 128 ended level with 64 for one seed and 9%
# worse for the other, 256 worse for both; on 8,000 MNIST rows 128 (62 steps) ended 3-4% below
# 64 in held-out error for both seeds, and 256 (31 steps) took longest to come within 5% of the
# best. Larger batches use the hardware better (speed.py, with XLA: about 0.4 of the matmul
# ceiling at 64, 0.75 at 256), so 'auto' takes the largest batch that leaves at least 50 steps
# per epoch.
AUTO_BATCH_SIZES = (64, 128, 256)
AUTO_MIN_STEPS_PER_EPOCH = 50


def resolve_batch_size(batch_size, n_rows):
    """The mini-batch size for ``n_rows`` training rows: ``'auto'`` made concrete, capped."""
    if batch_size == "auto":
        fitting = [b for b in AUTO_BATCH_SIZES if n_rows >= AUTO_MIN_STEPS_PER_EPOCH * b]
        batch_size = max(fitting, default=AUTO_BATCH_SIZES[0])
    return max(1, min(int(batch_size), n_rows))


# XLA on CPU, measured on 2 cores (benchmarks/defaults.py and benchmarks/speed.py): steady
# epochs ran 1.2-2x faster for MNIST-sized dense, variational and convolutional networks,
# compiling added 2-6 s to the first epoch, and full fits of the digits-sized network
# (64 features, about 4e7 flop per step) ran slower (32 s against 26 s). XLA saves per-step
# overhead, which many small steps repay, and about 10% of the arithmetic of large steps
# (batch 2048: 0.53 s epochs against 0.58 s), which a long fit repays even with few steps.
XLA_MIN_STEPS = 1000  # training steps a fit must plan to repay the compilation
XLA_MIN_FLOP_PER_STEP = 1e8  # forward and backward arithmetic of one training step
XLA_MIN_PLANNED_FLOP = 5e12  # or this much arithmetic in all (about a minute on 2 cores)


def resolve_jit_compile(jit_compile, model, n_rows, batch_size, epochs):
    """The ``jit_compile`` to give ``Model.compile``: skae's ``'auto'`` made concrete.

    Keras's own ``'auto'`` compiles with XLA on GPUs (and always on JAX) but never on a
    CPU-only TensorFlow. skae's ``'auto'`` also compiles on CPU when the fit's steps
    take at least ``XLA_MIN_FLOP_PER_STEP`` each and it plans at least ``XLA_MIN_STEPS``
    of them or ``XLA_MIN_PLANNED_FLOP`` in all, where XLA's faster steps repay its
    compilation.
    """
    if jit_compile != "auto" or keras.backend.backend() != "tensorflow":
        return jit_compile
    import tensorflow as tf

    if tf.distribute.has_strategy() or tf.config.list_logical_devices("GPU"):
        return "auto"  # Keras decides: XLA on GPUs
    batch_size = min(batch_size, n_rows)
    steps = epochs * -(-n_rows // batch_size)
    flop_per_step = 3 * forward_flop_per_sample(model) * batch_size  # backward: twice forward
    long_enough = steps >= XLA_MIN_STEPS or steps * flop_per_step >= XLA_MIN_PLANNED_FLOP
    return bool(flop_per_step >= XLA_MIN_FLOP_PER_STEP and long_enough)


def forward_flop_per_sample(model):
    """About 2 x kernel weights x positions each kernel is applied at, summed over layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flop_per_sample(layer)
            continue
        kernels = [w for w in layer.trainable_weights if len(w.shape) >= 2]
        if not kernels:
            continue
        if isinstance(layer, TiedDense):
            positions = 2  # one kernel, used by the encoder and, transposed, the decoder
        else:  # a convolution is applied at every position of its larger feature map
            shapes = [layer.input.shape, layer.output.shape]
            positions = max(int(np.prod(shape[1:-1])) for shape in shapes)
        total += 2 * positions * sum(int(np.prod(w.shape)) for w in kernels)
    return total


def make_optimizer(name, learning_rate):
    """A fresh Keras optimizer ``name`` with ``learning_rate``, safe to create once per fit.

    On TensorFlow, Keras sums the gradients over replicas with
    ``ReplicaContext.all_reduce`` even without a distribution strategy. Traced
    inside a ``tf.function``, that call registers a new ``tf.custom_gradient``
    in TensorFlow's process-wide gradient registry, which is never emptied and
    keeps the whole traced training graph alive: about 7 MB per fit, so a
    long-running process grew without bound (benchmarks/soak.py). With a single
    replica (no strategy) the all-reduce sum is the identity, so this optimizer
    skips it; under a strategy Keras's own path is kept. Nothing global is
    changed or cleared, so other models and estimators are unaffected.
    """
    optimizer = keras.optimizers.get(
        {"class_name": name, "config": {"learning_rate": learning_rate}}
    )
    skip_single_replica_all_reduce(optimizer)
    return optimizer


def skip_single_replica_all_reduce(optimizer):
    """Make ``optimizer`` skip the no-op all-reduce of one replica; see ``make_optimizer``.

    An instance attribute, not saved with the model: call it again on an
    optimizer restored from an archive.
    """
    if optimizer is None or keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        optimizer._all_reduce_sum_gradients = list
    else:  # several replicas may need the sum: Keras's own method again
        vars(optimizer).pop("_all_reduce_sum_gradients", None)


def dense_rows(X, rows, dtype="float32"):
    """``X[rows]`` as a dense array of ``dtype``; densifies sparse rows only."""
    block = X[rows]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=dtype)


class BatchSequence(keras.utils.PyDataset):
    """Mini-batches of (input, target) pairs drawn from rows of ``X``.

    Batches are densified one at a time (sparse input is never densified as a
    whole) and cast to float32 per batch (no float32 copy of ``X``). The order
    comes from a private NumPy generator, so training is reproducible without
    global seeds: Keras's own shuffling uses TensorFlow's global seed.
    """

    def __init__(self, X, rows, batch_size, *, shuffle=False, seed=0, targets=True):
        super().__init__()
        self.X = X
        self.rows = np.asarray(rows)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.targets = targets
        self._rng = np.random.default_rng(seed)
        self._order = self._new_order()

    def _new_order(self):
        return self._rng.permutation(self.rows) if self.shuffle else self.rows

    def __len__(self):
        return -(-len(self.rows) // self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = dense_rows(self.X, rows)
        return (batch, batch) if self.targets else (batch,)

    def on_epoch_end(self):
        self._order = self._new_order()


def release_data(*datasets):
    """Drop the data that finished ``PyDataset`` objects (batch sequences) hold.

    On TensorFlow, Keras feeds a ``PyDataset`` through ``Dataset.from_generator``,
    whose ``py_func`` stays registered in TensorFlow's global default graph for
    the life of the process, keeping the dataset alive: without this, every fit
    kept its training array (found by benchmarks/soak.py and test_faults.py).
    Only the emptied shells stay behind.
    """
    for dataset in datasets:
        for name in ("X", "targets", "rows", "_order"):
            if dataset is not None and name in vars(dataset):
                setattr(dataset, name, None)


def make_inference_function(model):
    """A function ``x -> model(x, training=False)`` that is cheap to call.

    ``Model.predict`` pays tens of milliseconds per call; on TensorFlow a
    ``tf.function`` with a batch-size-free signature traces once and then
    costs well under a millisecond. On JAX a jitted stateless call does the
    same; on PyTorch the model is called without recording gradients; other
    backends call the model directly.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), model.inputs[0].dtype)
        # autograph=False: a plain model call needs no conversion, and AutoGraph cannot parse
        # a lambda's source (it warns on every trace).
        return tf.function(
            lambda x: model(x, training=False), input_signature=[spec], autograph=False
        )
    if backend == "jax":
        return _jax_inference_function(model)
    if backend == "torch":
        import torch

        def call(x):
            with torch.no_grad():
                return model(x, training=False)

        return call
    return lambda x: model(x, training=False)


def _jax_inference_function(model):
    """``x -> model(x, training=False)`` as one jitted JAX function.

    The variables' current values are arguments of the jitted function, so
    weights changed later (``partial_fit``, warm starts, best weights restored)
    are used without retracing. ``jax.jit`` traces once per input shape:
    rows are padded to a power of two (at least 8), so a handful of traces
    serve every batch size. Rows do not interact at inference, so the
    padding rows do not change the others and are cut off again.
    """
    import jax

    @jax.jit
    def stateless(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    def call(x):
        x = np.asarray(x)
        n_rows = x.shape[0]
        padded = max(8, 1 << max(n_rows - 1, 0).bit_length())
        x = np.pad(x, [(0, padded - n_rows)] + [(0, 0)] * (x.ndim - 1))
        outputs = stateless(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            x,
        )
        return jax.tree_util.tree_map(lambda t: t[:n_rows], outputs)

    return call


def predict_in_chunks(function, X, chunk=INFERENCE_CHUNK):
    """Apply ``function`` to rows of ``X`` chunk by chunk; NumPy float32 out.

    ``function`` may return one tensor or a tuple of tensors.
    """
    outputs = []
    for start in range(0, X.shape[0], chunk):
        result = function(dense_rows(X, slice(start, start + chunk)))
        if isinstance(result, (tuple, list)):
            outputs.append(tuple(keras.ops.convert_to_numpy(r) for r in result))
        else:
            outputs.append(keras.ops.convert_to_numpy(result))
    if isinstance(outputs[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))
    return np.concatenate(outputs)


def model_to_bytes(model):
    """The model in Keras's own ``.keras`` format, as bytes."""
    # keras.saving.save_model only takes paths ending in ".keras".
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data):
    """Load a ``.keras`` archive from bytes in Keras's safe mode.

    Raises ``ValueError`` for data that is not a Keras archive or that asks
    for arbitrary code (a ``Lambda`` layer, an unregistered class).
    """
    if not isinstance(data, (bytes, bytearray)) or not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(
            "The saved network is not a valid .keras archive (truncated or corrupted)."
        )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # Keras raises many types for bad archives
            raise ValueError(f"Could not load the saved network safely: {error}") from error
