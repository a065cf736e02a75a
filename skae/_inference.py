"""Cheap inference: compiled forward passes, applied to data chunk by chunk."""

from functools import partial

import keras
import numpy as np

from ._data import dense_rows

# Rows per inference chunk: large enough to keep matmuls efficient, small
# enough that a chunk of a sparse matrix densified as float32 stays small.
INFERENCE_CHUNK = 4096


def _call_inference(model, x):
    return model(x, training=False)


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
        # autograph=False: a plain model call needs no conversion. A partial, not a lambda:
        # TensorFlow counts traces per function's code, so every estimator's one trace of a
        # lambda would read as retracing and warn in a grid search.
        return tf.function(partial(_call_inference, model), input_signature=[spec], autograph=False)
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
