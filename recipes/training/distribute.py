"""Data-parallel training with ``tf.distribute``: one machine's devices, or several machines.

Synchronous data parallelism computes the same update as one device with the global batch: each of the R
replicas computes the gradient g_r of the mean loss over its B/R examples, and every replica applies
g = (1/R) Σ_r g_r — the gradient of the mean loss over the global batch of B examples. So ``--batch-size`` is
the global batch B and ``--lr`` the rate ε for that batch, whatever the number of replicas. To train with a larger
global batch, scale ε with it (the linear scaling rule of Goyal et al. 2017: ε' = ε·B'/B, with a warm-up).

- ``default``: no strategy (one device).
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over the visible GPUs, or over ``logical_cpus`` logical CPU
  devices (for testing on a CPU machine).
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` configured by the ``TF_CONFIG`` environment
  variable (``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}``). Worker 0
  (or the ``chief`` task) is the chief: only it writes checkpoints, logs and the model; the output folder must be
  one that every worker can read (a shared file system), since all of them restore from it on a rerun. Collective
  operations time out after ``collective_timeout`` seconds, so when a worker dies the others fail with a clear
  error instead of hanging; rerunning the job resumes from the chief's last committed epoch.
"""
from __future__ import annotations

import json
import os

STRATEGIES = ("default", "mirrored", "multiworker")


def parse_tf_config():
    """The parsed ``TF_CONFIG`` (``ValueError`` naming it when it is missing or malformed)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable "
                         '(e.g. {"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]}, '
                         '"task": {"type": "worker", "index": 0}})')
    try:
        config = json.loads(raw)
        workers = config["cluster"].get("worker", []) + config["cluster"].get("chief", [])
        task_type, index = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"TF_CONFIG is not valid JSON with cluster and task: {err}") from err
    if not workers:
        raise ValueError("TF_CONFIG names no worker in its cluster")
    if task_type not in ("worker", "chief") or not 0 <= index < len(config["cluster"].get(task_type, [])):
        raise ValueError(f"TF_CONFIG task {task_type}:{index} is not in its cluster")
    return config


def is_chief():
    """True for the process that writes checkpoints and outputs: the only process without TF_CONFIG, the
    ``chief`` task, or worker 0 of a cluster without a chief."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    config = parse_tf_config()
    task = config["task"]
    if task["type"] == "chief":
        return True
    return "chief" not in config["cluster"] and task["type"] == "worker" and int(task["index"]) == 0


def make_strategy(name="default", logical_cpus=None, collective_timeout=300.0):
    """Create the ``tf.distribute`` strategy ``name`` (call before any other TensorFlow work)."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")
    if logical_cpus is not None and (not isinstance(logical_cpus, int) or logical_cpus < 1):
        raise ValueError(f"--logical-cpus must be an integer >= 1; got {logical_cpus!r}")
    if collective_timeout is not None and not collective_timeout > 0:
        raise ValueError(f"--collective-timeout must be > 0 seconds; got {collective_timeout!r}")
    import keras

    if name != "default" and keras.backend.backend() != "tensorflow":
        raise ValueError(f"--strategy {name} needs KERAS_BACKEND=tensorflow (tf.distribute); "
                         f"the backend is {keras.backend.backend()}")
    import tensorflow as tf

    if logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    parse_tf_config()
    _patch_keras_multiworker_reduction()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _patch_keras_multiworker_reduction():
    """Keras 3.15's TensorFlow trainer reduces each step's logs under ``MultiWorkerMirroredStrategy`` with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalar logs (the loss and metrics): "Invalid reduction
    dimension 0 for input with 0 dimensions". Reduce scalars across replicas with ``axis=None`` instead (the mean
    over replicas, as on one machine); everything else is left to Keras."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_recipes_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        import tensorflow as tf
        from keras.src import tree

        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            def _reduce(v):
                rank = v.values[0].shape.rank if trainer._is_per_replica_instance(v) else getattr(v.shape, "rank", 0)
                if rank == 0:
                    return strategy.reduce("MEAN", v, axis=None)
                return original(v, strategy, reduction)

            return tree.map_structure(_reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._recipes_patched = True
    trainer.reduce_per_replica = reduce_per_replica


def distribute_options():
    """tf.data options for a dataset fed to a multi-worker strategy: shard batches by data (every worker reads
    the same arrays; each keeps its share of every global batch)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options
