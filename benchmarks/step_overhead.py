"""Where a training step's time goes, from bare matmuls to ``StackedAE.fit`` (issue 6).

speed.py measures skae's training efficiency against the matmul ceiling; this script splits
the gap between them into layers, each timed in this one process, interleaved, on the same
network (speed.py's 784-512-256-256-256-512-784) and the same float32 rows:

* ``matmuls``: the step's matrix products alone (forward, and both backward products of
  every layer), compiled with XLA: what the arithmetic costs at this batch size;
* ``bare_step``: the whole step written by hand in TensorFlow (forward, mean squared error,
  ``GradientTape``, Adam with bias correction), XLA, up to eight steps per call, batches taken
  from a tensor: what the step costs without any framework around it;
* ``keras_fit``: ``keras.Model.fit`` of the same network (XLA, ``steps_per_execution=8``)
  on a ``tf.data`` pipeline of in-memory tensors;
* ``skae``: ``StackedAE.fit`` as a user calls it (its own input pipeline, 'auto' XLA,
  and up to eight steps per XLA call).

Each layer's time per step is reported with its fraction of the float32 matmul ceiling
(speed.py's ``Ceiling``, sampled after every measurement) and the ratio to the layer below.
TensorFlow backend only (``bare_step`` is TensorFlow code).

Run ``python benchmarks/step_overhead.py`` (about 5 minutes on 2 cores) or ``--smoke``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402
import speed  # noqa: E402

LAYERS = ("matmuls", "bare_step", "keras_fit", "skae")
STEPS_PER_CALL = 8


def settings_for(args):
    if args.smoke:
        return {"n_rows": 512, "batch_sizes": [32], "epochs": 2, "rounds": 1}
    return {"n_rows": 8000, "batch_sizes": args.batch_sizes, "epochs": 6, "rounds": 3}


def load_rows(args, n_rows):
    """MNIST images from mnist10k.npz when present, else synthetic MNIST-shaped rows."""
    if not args.smoke and Path(args.mnist).exists():
        X = common.load_mnist10k(args.mnist)["X_train"][:n_rows]
        return X.astype(np.float32), "mnist10k"
    return speed.mnist_shaped(n_rows, common.SEED), "synthetic"


def network_variables(tf, seed):
    sizes = speed.layer_sizes(784)
    rng = np.random.default_rng(seed)
    kernels = [
        tf.Variable((rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))).astype(np.float32))
        for a, b in zip(sizes[:-1], sizes[1:], strict=False)
    ]
    biases = [tf.Variable(np.zeros(b, np.float32)) for b in sizes[1:]]
    return kernels, biases


def forward(tf, kernels, biases, x):
    functions = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "linear": tf.identity}
    h = x
    for kernel, bias, activation in zip(kernels, biases, speed.layer_activations(), strict=True):
        h = functions[activation](h @ kernel + bias)
    return h


def make_matmuls(tf, steps_per_call):
    """One call: the forward and backward matrix products of ``steps_per_call`` steps."""
    kernels, _ = network_variables(tf, common.SEED)

    @tf.function(jit_compile=True)
    def run(calls, index):
        total = tf.constant(0.0)
        for j in range(steps_per_call):
            h = tf.gather(calls, index)[j]
            inputs = []
            for kernel in kernels:
                inputs.append(h)
                h = h @ kernel
            grad = h
            for kernel, layer_input in zip(reversed(kernels), reversed(inputs), strict=True):
                # Sum a corner of each product so that XLA cannot drop it as unused.
                total += tf.reduce_sum((tf.transpose(layer_input) @ grad)[0, :1])
                grad = grad @ tf.transpose(kernel)
            total += tf.reduce_sum(grad[0, :1])
        return total

    return run


def make_bare_step(tf, steps_per_call):
    """One call: ``steps_per_call`` full training steps with a hand-written Adam."""
    kernels, biases = network_variables(tf, common.SEED)
    params = kernels + biases
    moments = [tf.Variable(tf.zeros_like(p)) for p in params]
    velocities = [tf.Variable(tf.zeros_like(p)) for p in params]
    iteration = tf.Variable(0.0)
    lr, beta_1, beta_2, epsilon = speed.NETWORK["learning_rate"], 0.9, 0.999, 1e-7

    @tf.function(jit_compile=True)
    def run(calls, index):
        loss = tf.constant(0.0)
        for j in range(steps_per_call):
            x = tf.gather(calls, index)[j]
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(forward(tf, kernels, biases, x) - x))
            grads = tape.gradient(loss, params)
            t = iteration.assign_add(1.0)
            alpha = lr * tf.sqrt(1 - beta_2**t) / (1 - beta_1**t)
            for p, g, m, v in zip(params, grads, moments, velocities, strict=True):
                m.assign_add((g - m) * (1 - beta_1))
                v.assign_add((tf.square(g) - v) * (1 - beta_2))
                p.assign_sub(alpha * m / (tf.sqrt(v) + epsilon))
        return loss

    return run


def time_calls(tf, run, X, batch_size, steps_per_call, epochs):
    """Seconds per step of each 'epoch' of calls to ``run`` (first call compiles, untimed)."""
    n_calls = len(X) // (steps_per_call * batch_size)
    shape = (n_calls, steps_per_call, batch_size, X.shape[1])
    calls = tf.constant(X[: np.prod(shape[:3])].reshape(shape))
    # The call's index is a gathered tensor: under XLA a sliced offset is a compile-time
    # constant, and every new offset would compile the function again.
    indices = [tf.constant(i) for i in range(n_calls)]
    float(run(calls, indices[0]))
    times = []
    for _ in range(epochs):
        begin = time.perf_counter()
        for index in indices:
            result = run(calls, index)
        float(result)  # waits for the last call
        times.append((time.perf_counter() - begin) / (n_calls * steps_per_call))
    return times


def keras_fit_epoch_seconds(X, batch_size, epochs):
    import keras
    import tensorflow as tf

    model = speed.keras_network(X.shape[1], common.SEED)
    model.compile(
        optimizer=keras.optimizers.Adam(speed.NETWORK["learning_rate"]),
        loss="mse",
        jit_compile=True,
        steps_per_execution=STEPS_PER_CALL,
    )
    data = tf.data.Dataset.from_tensor_slices((X, X)).batch(batch_size)
    timer = speed.epoch_timer()
    model.fit(data, epochs=epochs, verbose=0, callbacks=[timer])
    return timer.times


def skae_epoch_seconds(X, batch_size, epochs):
    return speed.fit_skae(X, batch_size, epochs, common.SEED)[2]


# Each layer's timing: a hand-written TensorFlow function timed call by call, or a fit
# timed epoch by epoch (the first epoch, which compiles, dropped).
HAND_WRITTEN = {"matmuls": make_matmuls, "bare_step": make_bare_step}
FITS = {"keras_fit": keras_fit_epoch_seconds, "skae": skae_epoch_seconds}


def measure(X, settings):
    import tensorflow as tf

    ceiling = speed.Ceiling()
    ceiling.sample(3)
    flop_per_sample = speed.training_flop_per_sample(speed.layer_sizes(X.shape[1]))
    timings = {(b, layer): [] for b in settings["batch_sizes"] for layer in LAYERS}
    for _ in range(settings["rounds"]):
        for batch_size in settings["batch_sizes"]:
            # Up to STEPS_PER_CALL steps per call, as many as one epoch's rows allow.
            steps_per_call = max(1, min(STEPS_PER_CALL, len(X) // batch_size))
            steps_per_epoch = -(-len(X) // batch_size)
            for layer in LAYERS:
                if layer in HAND_WRITTEN:
                    run = HAND_WRITTEN[layer](tf, steps_per_call)
                    times = time_calls(
                        tf, run, X, batch_size, steps_per_call, settings["epochs"] - 1
                    )
                else:
                    epoch_seconds = FITS[layer](X, batch_size, settings["epochs"])
                    times = [seconds / steps_per_epoch for seconds in epoch_seconds[1:]]
                timings[batch_size, layer].extend(times)
                ceiling.sample()
    rows = []
    for batch_size in settings["batch_sizes"]:
        step_flop = flop_per_sample * batch_size
        row = {"batch_size": batch_size, "layers": {}, "ratios": {}}
        for layer in LAYERS:
            best, median = min(timings[batch_size, layer]), speed.median(timings[batch_size, layer])
            row["layers"][layer] = {
                "best_ms_per_step": 1e3 * best,
                "median_ms_per_step": 1e3 * median,
                "fraction_of_ceiling": step_flop / best / 1e9 / ceiling.gflops,
            }
        for upper, lower in zip(LAYERS[1:], LAYERS[:-1], strict=True):
            row["ratios"][f"{upper} / {lower}"] = (
                row["layers"][upper]["best_ms_per_step"] / row["layers"][lower]["best_ms_per_step"]
            )
        rows.append(row)
    return {
        "gflops": ceiling.gflops,
        "median_gflops": ceiling.median_gflops,
        "n_samples": len(ceiling.samples),
    }, rows


def render_markdown(payload):
    ceiling = payload["ceiling"]
    lines = [
        "# Where a training step's time goes",
        "",
        f"Network 784-512-256-256-256-512-784, {payload['n_rows']:,} float32 rows "
        f"({payload['data']}), {payload['settings']['rounds']} interleaved rounds of "
        f"{payload['settings']['epochs'] - 1} timed epochs per layer. float32 matmul ceiling: "
        f"{ceiling['gflops']:.0f} GFLOP/s (best of {ceiling['n_samples']} samples, median "
        f"{ceiling['median_gflops']:.0f}).",
        "",
        "Milliseconds per step, best / median, with the best step's fraction of the ceiling; "
        "each ratio compares best steps with the layer below.",
        "",
    ]
    header = ["batch", *LAYERS, *payload["rows"][0]["ratios"]]
    table = []
    for row in payload["rows"]:
        cells = [row["batch_size"]]
        for layer in LAYERS:
            figures = row["layers"][layer]
            cells.append(
                f"{figures['best_ms_per_step']:.2f} / {figures['median_ms_per_step']:.2f} "
                f"({figures['fraction_of_ceiling']:.2f})"
            )
        cells += [f"{ratio:.2f}" for ratio in row["ratios"].values()]
        table.append(cells)
    lines += [common.markdown_table(header, table), common.machine_line(payload["machine"]), ""]
    lines.append(f"Regenerate: `{payload['command']}`")
    return "\n".join(lines) + "\n"


def plot(payload, folder):
    plt = common.pyplot()
    if plt is None:
        return
    figure, axis = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(LAYERS)
    for i, layer in enumerate(LAYERS):
        positions = [j + i * width for j in range(len(payload["rows"]))]
        fractions = [row["layers"][layer]["fraction_of_ceiling"] for row in payload["rows"]]
        axis.bar(positions, fractions, width, label=layer)
    axis.set_xticks(
        [j + 0.4 - width / 2 for j in range(len(payload["rows"]))],
        [str(row["batch_size"]) for row in payload["rows"]],
    )
    axis.set_xlabel("batch size")
    axis.set_ylabel("fraction of the matmul ceiling (best step)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(Path(folder) / "step_overhead.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser, families=False)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 256, 1024])
    args = parser.parse_args(argv)
    import keras

    if keras.backend.backend() != "tensorflow":
        parser.error(
            "step_overhead.py times hand-written TensorFlow steps: use KERAS_BACKEND=tensorflow"
        )
    settings = settings_for(args)
    X, data_name = load_rows(args, settings["n_rows"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning from skae's deliberately short fits
        ceiling, rows = measure(X, settings)
    payload = {
        "benchmark": "step_overhead",
        "smoke": args.smoke,
        "settings": settings,
        "n_rows": len(X),
        "data": data_name,
        "ceiling": ceiling,
        "rows": rows,
        "machine": common.machine_info(),
        "command": common.command_line("step_overhead.py", sys.argv[1:] if argv is None else argv),
    }
    folder = common.output_folder(args)
    common.write_json(folder, "step_overhead", payload)
    common.write_text(folder, "step_overhead.md", render_markdown(payload))
    plot(payload, folder)
    print(render_markdown(payload))


if __name__ == "__main__":
    main()
