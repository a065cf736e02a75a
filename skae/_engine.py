"""skae's training engine: whole epochs per compiled call, on Keras 3's public API only.

An estimator hands a :class:`Trainer` its compiled Keras model (for the optimizer), the
loss, the batch size and the data; the trainer runs each epoch as one compiled call over
data already on the device and returns the loss curves. On TensorFlow an epoch is one
``tf.function`` (a ``tf.while_loop`` of ``GradientTape`` + ``optimizer.apply`` steps), on
JAX one ``jax.jit`` of a ``lax.scan`` of ``stateless_call`` + ``optimizer.stateless_apply``
steps, on PyTorch an eager loop over device-resident batches. The order of the rows is
drawn on the device from ``(seed, epoch)``, so training is reproducible without any global
seed. Callbacks see epochs: ``on_train_batch_begin``/``end`` run once per compiled call
(an epoch, or a chunk of streamed data), with that call's mean loss.

Weighted rows (``TrainingRows.weights``, scaled to mean 1) ride with the data: a vector of
weights placed beside the inputs and gathered with the same positions, so a batch's loss is
``mean(w * loss)``. Unweighted data place ``None`` there and run the same operations as
before weights existed.
"""

import math
import sys
import time
from dataclasses import dataclass, field
from functools import partial

import keras
import numpy as np

from ._data import TrainingRows

# Rows per evaluation step of validation data (inference mode; batch statistics do not matter).
EVALUATION_ROWS = 1024
# Rows converted to float32 and uploaded at a time: small pieces keep the transient copies
# (a float64 slice, its float32 cast) far below the one float32 copy on the device.
PLACE_ROWS = 1024


# Keras losses that are a mean over the last axis of a loss of each value, as that loss; the
# autoencoders' targets and outputs are rows of the same shape.
_ELEMENTWISE_LOSSES = {
    "mean_squared_error": lambda targets, outputs: keras.ops.square(outputs - targets),
    "binary_crossentropy": lambda targets, outputs: keras.ops.binary_crossentropy(targets, outputs),
}


@dataclass
class TrainingResult:
    """What a :meth:`Trainer.fit` did, in ``MLPRegressor``'s terms."""

    loss_curve: list = field(default_factory=list)
    validation_loss_curve: list = field(default_factory=list)
    best_loss: float = np.inf
    converged: bool = False  # the monitored loss stopped improving by tol (relative)
    stopped_by_callback: bool = False  # a user's callback set model.stop_training
    diverged_at: int = None  # the epoch (1-based) whose loss was not finite


class _Monitor(keras.callbacks.Callback):
    """``MLPRegressor``'s stopping rules: stop at the first non-finite loss, or when the
    monitored loss has not improved by ``tol`` times its best value for ``n_iter_no_change``
    epochs, keeping the best weights when monitoring a validation loss. Relative, so that
    one ``tol`` means the same for an MSE of 0.01 on pixels and of 1e4 on raw prices."""

    def __init__(self, result, *, monitor, tol, n_iter_no_change, keep_best):
        super().__init__()
        self.result = result
        self.monitor = monitor
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.keep_best = keep_best
        self.best_weights = None
        self.no_improvement_count = 0

    def on_epoch_end(self, epoch, logs=None):
        result = self.result
        loss = float(logs["loss"])
        result.loss_curve.append(loss)
        if "val_loss" in logs:
            result.validation_loss_curve.append(float(logs["val_loss"]))
        current = float(logs[self.monitor])
        if not (np.isfinite(loss) and np.isfinite(current)):
            result.diverged_at = len(result.loss_curve)
            self.model.stop_training = True
            return
        if current > result.best_loss - self.tol * abs(result.best_loss):
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if current < result.best_loss:
            result.best_loss = current
            if self.keep_best:
                self.best_weights = self.model.get_weights()
        if self.no_improvement_count >= self.n_iter_no_change:
            result.converged = True
            self.model.stop_training = True


def resolve_jit_compile(jit_compile):
    """``jit_compile='auto'`` made concrete for the current backend and devices.

    JAX always compiles (``jax.jit``); PyTorch runs eagerly. On TensorFlow 'auto' follows
    Keras's own rule, XLA on GPUs only. On 2 CPU cores (8,000 MNIST rows, steady epochs,
    one-off run with this engine) XLA made StackedAE 1.2-1.7x and VariationalAE 1.3x faster
    after 1-2 s more compiling (``benchmarks/engine.py``), but DenoisingAE 6x slower (3.3 s
    against 0.55 s: its noise) and ConvolutionalAE 18x slower (35 s against 1.9 s), so no
    family gets it by default there; ``jit_compile=True`` asks for it.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return True
    if backend != "tensorflow":
        return False
    if jit_compile != "auto":
        return bool(jit_compile)
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def make_optimizer(name, learning_rate):
    """A fresh Keras optimizer ``name`` (e.g. 'adam') with ``learning_rate``."""
    # A Python float: Keras refuses NumPy scalars (e.g. from np.logspace).
    config = {"learning_rate": float(learning_rate)}
    return keras.optimizers.get({"class_name": name, "config": config})


# The cosine schedule's linear warm-up spans this fraction of the epochs (at least one): on
# 8,000 MNIST images, 40 epochs at 3e-3 (batch 128), 3 warm-up epochs ended at 0.50x PCA's
# held-out MSE against 0.53x with one (benchmarks/time_to_quality.py).
WARMUP_FRACTION = 0.08


def learning_rates(peak, epochs, schedule):
    """The learning rate of each of ``epochs`` epochs: ``peak`` throughout ('constant'), or
    ('cosine') a linear warm-up to ``peak`` over the first 8% of the epochs, then a cosine
    decay to zero at the end of the last epoch (each epoch at its midpoint's rate)."""
    peak = float(peak)
    if schedule == "constant" or epochs < 2:
        return [peak] * epochs
    warmup = max(1, round(WARMUP_FRACTION * epochs))
    rates = [peak * (e + 1) / (warmup + 1) for e in range(warmup)]
    decay = epochs - warmup
    rates += [peak * 0.5 * (1 + math.cos(math.pi * (e + 0.5) / decay)) for e in range(decay)]
    return rates


def annealed_gain(curve):
    """How much an annealed fit's loss still fell per epoch at its end, as a share of its
    whole decrease: the mean loss of the last tenth of the epochs (at least one) against
    the tenth before it, per epoch.

    The annealed curve flattens; a budget too short leaves a large gain (digits, 10 epochs:
    0.4%). Means, not the last epoch alone: a noisy loss (DenoisingAE on 133 wine rows,
    3 batches an epoch) moved by up to 0.3% from one epoch to the next at the end of its
    schedule, while the means gained at most 0.06% in 37 default fits on wine, breast
    cancer, digits and mnist10k.
    """
    n_epochs = len(curve)
    k = max(1, round(0.1 * n_epochs))
    before, last = np.mean(curve[-2 * k : -k]), np.mean(curve[-k:])
    decrease = max(curve[0] - min(curve), 0.0)
    if decrease == 0.0:
        return 0.0 if before <= last else np.inf
    return (before - last) / k / decrease


def resolve_verbose(verbose):
    """``verbose`` as 0 (silent) or 1 (one line per epoch); 'auto' prints on a terminal."""
    if verbose == "auto":
        return int(sys.stdout.isatty())
    return int(verbose > 0)


class Trainer:
    """Trains ``model`` (compiled, for its optimizer) with skae's engine.

    ``loss`` is a Keras loss name comparing targets with the model's output, or None when
    the model's layers add the whole loss (``add_loss``); added losses and weight
    regularizers always count. An added loss of shape ``(batch,)`` holds per-row values
    (``NegativeELBO``'s): the trainer averages it, weighted as the main loss; a scalar one
    (a penalty on the whole batch, a weight regularizer) counts as it is. A trainer is kept
    between ``partial_fit`` calls, so its compiled functions are traced once.
    """

    def __init__(self, model, *, loss, batch_size, jit_compile=False):
        self.model = model
        self.loss = loss
        self.batch_size = int(batch_size)
        self.jit_compile = jit_compile
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        backend = keras.backend.backend()
        runner = {"tensorflow": _TensorFlowRunner, "jax": _JaxRunner, "torch": _TorchRunner}
        self._runner = runner.get(backend, _TorchRunner)(self)

    def compute_loss(self, targets, outputs, added_losses, weights=None):
        """The training objective of one batch, in float32; ``weights`` (one per row,
        mean 1 over the data) weight the per-row terms."""
        ops = keras.ops
        total = ops.convert_to_tensor(0.0, "float32")
        if self.loss in _ELEMENTWISE_LOSSES and len(targets.shape) == len(outputs.shape):
            # The loss of each value, then one mean: Keras's value (a mean over the last axis,
            # then over the rows) without the shape arithmetic of its gradient, which made the
            # MNIST batch-256 epoch 1.03x the hand-written loop's (1.00x without; 8 rounds).
            values = _ELEMENTWISE_LOSSES[self.loss](targets, ops.cast(outputs, "float32"))
            total = total + _row_mean(values, weights)
        elif self.loss is not None:
            per_sample = keras.losses.get(self.loss)(targets, ops.cast(outputs, "float32"))
            total = total + _row_mean(per_sample, weights)
        for term in added_losses:
            term = ops.cast(term, "float32")
            total = total + (term if len(term.shape) == 0 else _row_mean(term, weights))
        return total

    def fit(
        self,
        data,
        *,
        epochs,
        seed,
        validation=None,
        tol=0.0,
        n_iter_no_change=None,
        callbacks=(),
        verbose=0,
        label="",
        rates=None,
    ):
        """Train on ``data`` (a :class:`~skae._data.TrainingRows`) for up to ``epochs``.

        Stops as ``MLPRegressor`` does (see ``_Monitor``), restores the best weights when
        ``validation`` rows are monitored, and prints one line per epoch when ``verbose``.
        ``rates`` (one learning rate per epoch, see :func:`learning_rates`) are set on the
        optimizer before each epoch's call; a schedule that anneals to zero is its own
        stopping rule: without validation data, the fit runs the whole schedule and has
        converged when its last epochs decreased the loss by at most ``tol`` times the
        decrease over the whole fit, per epoch (see :func:`annealed_gain`).
        """
        model = self.model
        result = TrainingResult()
        annealed = rates is not None and epochs > 1 and rates[-1] < rates[0]
        if n_iter_no_change is None or (annealed and validation is None):
            n_iter_no_change = epochs + 1
        monitor = _Monitor(
            result,
            monitor="loss" if validation is None else "val_loss",
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            keep_best=validation is not None,
        )
        callback_list = keras.callbacks.CallbackList(
            [monitor, *callbacks], model=model, epochs=epochs, steps=1, verbose=0
        )
        runner = self._runner
        placed = runner.place(data) if data.resident else None
        placed_validation = None if validation is None else runner.place(validation)
        model.stop_training = False
        logs = {}
        callback_list.on_train_begin()
        for epoch in range(epochs):
            start = time.perf_counter()
            if rates is not None:
                # A variable of the optimizer's: the traced epoch reads it, so no retracing.
                model.optimizer.learning_rate = rates[epoch]
            callback_list.on_epoch_begin(epoch)
            callback_list.on_train_batch_begin(0)
            loss = self._epoch(data, placed, seed, epoch)
            logs = {"loss": loss}
            callback_list.on_train_batch_end(0, logs)
            if validation is not None:
                logs["val_loss"] = runner.evaluate(placed_validation, len(validation))
            callback_list.on_epoch_end(epoch, logs)
            if verbose:
                _print_epoch(label, epoch, epochs, logs, time.perf_counter() - start)
            if model.stop_training:
                break
        callback_list.on_train_end(logs)
        curve = result.loss_curve
        if annealed and validation is None and len(curve) == epochs and result.diverged_at is None:
            result.converged = annealed_gain(curve) <= tol
        stopped = model.stop_training and not result.converged and result.diverged_at is None
        result.stopped_by_callback = bool(stopped)
        if monitor.best_weights is not None and result.diverged_at is None:
            model.set_weights(monitor.best_weights)
        return result

    def _epoch(self, data, placed, seed, epoch):
        runner = self._runner
        n_rows = len(data)
        if placed is not None:
            order = runner.order(n_rows, seed, epoch, data.shuffle)
            return float(runner.train(placed, order)) / n_rows
        # Streamed: the same order, drawn on the device, read back to gather each chunk.
        order = keras.ops.convert_to_numpy(runner.order(n_rows, seed, epoch, data.shuffle))
        total = 0.0
        for inputs, labels, weights in data.chunks(order):
            chunk = runner.place_arrays(inputs, labels, weights)
            total += float(runner.train(chunk, runner.order(len(inputs), seed, epoch, False)))
        return total / n_rows


def _row_mean(values, weights):
    """The batch mean of per-row ``values``, weighted by ``weights`` unless None."""
    ops = keras.ops
    if weights is None:
        return ops.mean(values)
    if len(values.shape) > 1:
        values = ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1)
    return ops.mean(values * weights)


def _print_epoch(label, epoch, epochs, logs, seconds):
    parts = [f"{label}Epoch {epoch + 1}/{epochs}", f"loss = {logs['loss']:.6g}"]
    if "val_loss" in logs:
        parts.append(f"validation loss = {logs['val_loss']:.6g}")
    parts.append(f"{seconds:.2f} s")
    print(", ".join(parts), file=sys.stdout, flush=True)


def _input_shape(model):
    return tuple(model.inputs[0].shape[1:])


class _TensorFlowRunner:
    """Each epoch one ``tf.function`` call: a ``tf.while_loop`` over the batches."""

    def __init__(self, trainer):
        import tensorflow as tf

        self.tf = tf
        self.trainer = trainer
        self.model = trainer.model
        self.strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
        self.on_host = self.strategy is None and not tf.config.list_logical_devices("GPU")
        jit = bool(trainer.jit_compile)
        # reduce_retracing: a partial_fit of another size reuses the trace (without XLA,
        # which needs static shapes). TensorFlow counts traces per function's code, so the
        # one trace of each fit of a grid search would read as retracing: a partial is its
        # own function to TensorFlow's counter.
        # XLA needs every batch's size known when compiling: full batches, then the remainder.
        graph = self._train_static if jit else self._train_graph
        self._train = tf.function(
            partial(graph), jit_compile=jit, reduce_retracing=not jit, autograph=False
        )
        self._step_call = tf.function(partial(self._distributed_step), autograph=False)
        self._evaluate = tf.function(
            partial(self._evaluate_graph), reduce_retracing=True, autograph=False
        )

    # -- data
    def place(self, data):
        labels = data.labels()
        tf = self.tf
        if self.on_host:
            # On the host the float32 copy, built in place, becomes the tensor through DLPack,
            # without a copy: a 60,000 x 784 fit grew by 179 MB in place() (the copy) against
            # 198 MB for the variable filled piece by piece below; tf.convert_to_tensor of a
            # NumPy array copies it (367 MB at its peak).
            buffer = data.inputs(aligned=True)
            inputs = tf.experimental.dlpack.from_dlpack(buffer.__dlpack__())
        else:
            # A device's copy, uploaded piece by piece so that the host holds no full copy.
            inputs = tf.Variable(
                tf.zeros((len(data), *data.X.shape[1:]), tf.float32), trainable=False
            )
            for start in range(0, len(data), PLACE_ROWS):
                positions = np.arange(start, min(start + PLACE_ROWS, len(data)))
                inputs.scatter_update(tf.IndexedSlices(data.inputs(positions), positions))
        weights = data.row_weights()
        return (
            inputs,
            None if labels is None else tf.constant(labels),
            None if weights is None else tf.constant(weights),
        )

    def place_arrays(self, inputs, labels, weights=None):
        tf = self.tf
        return (
            tf.constant(inputs),
            None if labels is None else tf.constant(labels),
            None if weights is None else tf.constant(weights),
        )

    def order(self, n_rows, seed, epoch, shuffle):
        tf = self.tf
        if not shuffle:
            return tf.range(n_rows)
        keys = tf.random.stateless_uniform(
            [n_rows], seed=[seed, epoch], minval=None, maxval=None, dtype=tf.int32
        )
        return tf.argsort(keys, stable=True)

    # -- training
    def train(self, placed, order):
        if self.strategy is not None:
            return self._train_stepwise(*placed, order)
        return self._train(*placed, order)

    def _batch(self, inputs, labels, weights, positions):
        tf = self.tf
        x = tf.gather(inputs, positions)
        # Reshaped only for a model of images: a step's small ops add up (see compute_loss).
        if tuple(x.shape[1:]) != _input_shape(self.model):
            x = tf.reshape(x, (-1, *_input_shape(self.model)))
        if labels is not None:
            y = tf.gather(labels, positions)
        else:
            y = x if len(x.shape) == 2 else tf.reshape(x, (tf.shape(x)[0], -1))
        return x, y, None if weights is None else tf.gather(weights, positions)

    def _step(self, x, y, w=None, share=None):
        """One optimizer step on batch ``(x, y)`` with row weights ``w``; returns its loss."""
        tf = self.tf
        model, optimizer = self.model, self.model.optimizer
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            loss = self.trainer.compute_loss(y, outputs, model.losses, w)
            scaled = optimizer.scale_loss(loss if share is None else loss * share)
        gradients = tape.gradient(scaled, variables)
        # A tied layer's decoder-side bias gets no gradient where only its encoder side runs
        # (EncoderClassifier's fine-tuning), and Keras warns about each such variable.
        kept = [i for i, gradient in enumerate(gradients) if gradient is not None]
        if len(kept) < len(variables):
            gradients = [gradients[i] for i in kept]
            variables = [variables[i] for i in kept]
        if self.strategy is None and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            # Keras's TensorFlow optimizer sums gradients over replicas with an all-reduce
            # that, traced in a tf.function, registers a tf.custom_gradient in TensorFlow's
            # process-wide registry and so keeps every traced training graph alive (5 of 5
            # fits leaked one, tests/test_faults.py). In a cross-replica context (the
            # public merge_call) there is no replica to sum over, and nothing is registered.
            # Keras's LossScaleOptimizer refuses that context: mixed_float16 keeps the leak.
            tf.distribute.get_replica_context().merge_call(
                lambda _: optimizer.apply(gradients, variables)
            )
        else:
            optimizer.apply(gradients, variables)
        return loss

    def _train_graph(self, inputs, labels, weights, order):
        tf = self.tf
        batch = self.trainer.batch_size
        n_rows = tf.shape(order)[0]

        # The last, short batch is a pass of the same loop body: the step is traced once
        # (a second traced step for the remainder made a small fit's tracing 0.49 s, not 0.3).
        def body(i, total):
            start = i * batch
            size = tf.minimum(batch, n_rows - start)
            x, y, w = self._batch(inputs, labels, weights, tf.slice(order, [start], [size]))
            return i + 1, total + self._step(x, y, w) * tf.cast(size, tf.float32)

        n_batches = (n_rows + batch - 1) // batch
        _, total = tf.while_loop(
            lambda i, total: i < n_batches, body, (tf.constant(0), tf.constant(0.0))
        )
        return total

    def _train_static(self, inputs, labels, weights, order):
        """The epoch under XLA, which needs static shapes: full batches in the loop, the
        remainder after it."""
        tf = self.tf
        batch = self.trainer.batch_size
        n_rows = order.shape[0]
        n_full = n_rows // batch

        def body(i, total):
            x, y, w = self._batch(inputs, labels, weights, tf.slice(order, [i * batch], [batch]))
            return i + 1, total + self._step(x, y, w) * batch

        _, total = tf.while_loop(
            lambda i, total: i < n_full, body, (tf.constant(0), tf.constant(0.0))
        )
        if n_rows % batch:
            x, y, w = self._batch(inputs, labels, weights, order[n_full * batch :])
            total = total + self._step(x, y, w) * float(n_rows - n_full * batch)
        return total

    def _distributed_step(self, x, y, w):
        # Under a tf.distribute strategy each replica trains on its share of the batch
        # (Keras 3.15's TensorFlow trainer cannot loop steps inside one call either).
        tf = self.tf
        strategy = self.strategy

        def replica_step(x, y, w):
            context = tf.distribute.get_replica_context()
            n_replicas = context.num_replicas_in_sync
            n_rows = tf.shape(x)[0]
            share = -(-n_rows // n_replicas)
            begin = tf.minimum(context.replica_id_in_sync_group * share, n_rows)
            size = tf.minimum(share, n_rows - begin)
            x_part, y_part = x[begin : begin + size], y[begin : begin + size]
            w_part = None if w is None else w[begin : begin + size]
            weight = tf.cast(size, tf.float32) / tf.cast(n_rows, tf.float32)
            return self._step(x_part, y_part, w_part, share=weight) * weight

        losses = strategy.run(replica_step, args=(x, y, w))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def _train_stepwise(self, inputs, labels, weights, order):
        tf = self.tf
        batch = self.trainer.batch_size
        n_rows = int(order.shape[0])
        total = 0.0
        for start in range(0, n_rows, batch):
            x, y, w = self._batch(inputs, labels, weights, order[start : start + batch])
            total += float(self._step_call(x, y, w)) * int(x.shape[0])
        return tf.constant(total)

    # -- evaluation
    def _evaluate_graph(self, inputs, labels, weights):
        tf = self.tf
        model = self.model
        n_rows = tf.shape(inputs)[0]
        n_steps = (n_rows + EVALUATION_ROWS - 1) // EVALUATION_ROWS

        def body(i, total):
            positions = tf.range(i * EVALUATION_ROWS, tf.minimum((i + 1) * EVALUATION_ROWS, n_rows))
            x, y, w = self._batch(inputs, labels, weights, positions)
            outputs = model(x, training=False)
            loss = self.trainer.compute_loss(y, outputs, model.losses, w)
            return i + 1, total + loss * tf.cast(tf.size(positions), tf.float32)

        _, total = tf.while_loop(
            lambda i, total: i < n_steps, body, (tf.constant(0), tf.constant(0.0))
        )
        return total

    def evaluate(self, placed, n_rows):
        return float(self._evaluate(*placed)) / n_rows


class _JaxRunner:
    """Each epoch one ``jax.jit`` call: a ``lax.scan`` of stateless steps."""

    def __init__(self, trainer):
        import jax

        self.jax = jax
        self.trainer = trainer
        self.model = trainer.model
        self._train = jax.jit(self._train_stateless)
        self._evaluate = jax.jit(self._evaluate_stateless)
        self._order = jax.jit(
            lambda key, n_rows: jax.random.permutation(key, n_rows), static_argnums=1
        )

    def place(self, data):
        # On the CPU, jax.device_put of a page-aligned array aliases it, where jnp.asarray
        # copied it: a 60,000 x 784 fit grew 114 MB beyond the array and one float32 copy,
        # against 211 MB (0.77 more copies than at 15,000 rows).
        return self.place_arrays(data.inputs(aligned=True), data.labels(), data.row_weights())

    def place_arrays(self, inputs, labels, weights=None):
        # Under a keras.distribution (DataParallel), rows are sharded as Keras shards batches.
        distribution = keras.distribution.distribution()

        def put(array):
            if distribution is None:
                return self.jax.device_put(array)
            layout = distribution.get_data_layout(array.shape).backend_layout
            return self.jax.device_put(array, layout)

        return (
            put(inputs),
            None if labels is None else put(labels),
            None if weights is None else put(weights),
        )

    def order(self, n_rows, seed, epoch, shuffle):
        import jax.numpy as jnp

        if not shuffle:
            return jnp.arange(n_rows)
        key = self.jax.random.fold_in(self.jax.random.key(seed), epoch)
        return self._order(key, n_rows)

    def _state(self):
        model = self.model
        return (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
        )

    def _batch(self, inputs, labels, weights, positions):
        x = inputs[positions].reshape((-1, *_input_shape(self.model)))
        y = x.reshape((x.shape[0], -1)) if labels is None else labels[positions]
        return x, y, None if weights is None else weights[positions]

    def _loss(self, trainable, non_trainable, x, y, w, training):
        outputs, non_trainable, losses = self.model.stateless_call(
            trainable, non_trainable, x, training=training, return_losses=True
        )
        return self.trainer.compute_loss(y, outputs, losses, w), non_trainable

    def _train_stateless(self, state, inputs, labels, weights, order):
        jax = self.jax
        optimizer = self.model.optimizer
        batch = self.trainer.batch_size

        def step(carry, positions):
            trainable, non_trainable, optimizer_state = carry
            x, y, w = self._batch(inputs, labels, weights, positions)

            def objective(trainable):
                loss, updated = self._loss(trainable, non_trainable, x, y, w, True)
                # Loss scaling reads the optimizer's scale: a stateless scope, as in Keras.
                mapping = list(zip(optimizer.variables, optimizer_state, strict=True))
                with keras.StatelessScope(state_mapping=mapping):
                    scaled = optimizer.scale_loss(loss)
                return scaled, (loss, updated)

            gradients, (loss, non_trainable) = jax.grad(objective, has_aux=True)(trainable)
            trainable, optimizer_state = optimizer.stateless_apply(
                optimizer_state, gradients, trainable
            )
            return (trainable, non_trainable, optimizer_state), loss * positions.shape[0]

        n_rows = order.shape[0]
        n_full = n_rows // batch
        state, losses = jax.lax.scan(step, state, order[: n_full * batch].reshape(n_full, batch))
        total = losses.sum()
        if n_rows % batch:
            state, last = step(state, order[n_full * batch :])
            total = total + last
        return state, total

    def train(self, placed, order):
        state, total = self._train(self._state(), *placed, order)
        model = self.model
        variables = (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
        )
        for group, values in zip(variables, state, strict=True):
            for variable, value in zip(group, values, strict=True):
                variable.assign(value)
        return total

    def _evaluate_stateless(self, trainable, non_trainable, inputs, labels, weights):
        n_rows = inputs.shape[0]
        total = 0.0
        for start in range(0, n_rows, EVALUATION_ROWS):
            positions = np.arange(start, min(start + EVALUATION_ROWS, n_rows))
            x, y, w = self._batch(inputs, labels, weights, positions)
            loss, _ = self._loss(trainable, non_trainable, x, y, w, False)
            total = total + loss * len(positions)
        return total

    def evaluate(self, placed, n_rows):
        trainable, non_trainable, _ = self._state()
        return float(self._evaluate(trainable, non_trainable, *placed)) / n_rows


class _TorchRunner:
    """An eager loop over device-resident batches, as Keras's PyTorch trainer steps."""

    def __init__(self, trainer):
        import torch

        self.torch = torch
        self.trainer = trainer
        self.model = trainer.model

    def place(self, data):
        return self.place_arrays(data.inputs(), data.labels(), data.row_weights())

    def place_arrays(self, inputs, labels, weights=None):
        # torch.as_tensor shares a float32 array's memory on the CPU, where Keras's
        # convert_to_tensor copies it first (np.array): one copy of the rows, not two.
        device = self._device()

        def put(array):
            return None if array is None else self.torch.as_tensor(array, device=device)

        return put(inputs), put(labels), put(weights)

    @staticmethod
    def _device():
        # Keras's own device for new tensors, read through its public API.
        return keras.ops.convert_to_tensor(0.0).device

    def order(self, n_rows, seed, epoch, shuffle):
        torch = self.torch
        device = self._device()
        if not shuffle:
            return torch.arange(n_rows, device=device)
        generator = torch.Generator(device=device)
        generator.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
        return torch.randperm(n_rows, generator=generator, device=device)

    def _batch(self, inputs, labels, weights, positions):
        x = inputs[positions].reshape((-1, *_input_shape(self.model)))
        y = x.reshape((x.shape[0], -1)) if labels is None else labels[positions]
        return x, y, None if weights is None else weights[positions]

    def train(self, placed, order):
        torch = self.torch
        model, optimizer = self.model, self.model.optimizer
        variables = model.trainable_variables
        total = 0.0
        for start in range(0, len(order), self.trainer.batch_size):
            positions = order[start : start + self.trainer.batch_size]
            x, y, w = self._batch(*placed, positions)
            model.zero_grad()
            outputs = model(x, training=True)
            loss = self.trainer.compute_loss(y, outputs, model.losses, w)
            optimizer.scale_loss(loss).backward()
            # As on TensorFlow: variables without a gradient (a tied decoder bias) are left out.
            used = [v for v in variables if v.value.grad is not None]
            with torch.no_grad():
                optimizer.apply([v.value.grad for v in used], used)
            # Summed on the device: a float() per batch would wait for each step on a GPU.
            total = total + loss.detach() * len(positions)
        return float(total)

    def evaluate(self, placed, n_rows):
        torch = self.torch
        model = self.model
        total = 0.0
        with torch.no_grad():
            for start in range(0, n_rows, EVALUATION_ROWS):
                positions = torch.arange(start, min(start + EVALUATION_ROWS, n_rows))
                x, y, w = self._batch(*placed, positions)
                loss = self.trainer.compute_loss(y, model(x, training=False), model.losses, w)
                total += float(loss) * len(positions)
        return total / n_rows


__all__ = [
    "Trainer",
    "TrainingResult",
    "TrainingRows",
    "learning_rates",
    "make_optimizer",
    "resolve_jit_compile",
    "resolve_verbose",
]
