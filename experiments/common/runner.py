"""The one job runner of every experiment, over a ``concurrent.futures.Executor``.

An experiment splits its work into independent ``Job``s. Each runs in a worker
process — local processes (``--jobs N``), a Dask ``LocalCluster`` (``--dask N``)
or an existing Dask cluster (``--scheduler ADDRESS``) — and *returns* an
``Outcome``: rows and entries for ``results.json`` and arrays for ``.npz``
files. Only the driver writes files, so workers need no shared disk. Jobs start
longest first and are saved as each finishes; a job always runs in a worker
(single-threaded TensorFlow), never in the driver, so the same seeds give the
same numbers whichever executor runs it.
"""
import concurrent.futures
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import warnings
from typing import Callable

__all__ = ["Job", "Outcome", "executor", "run_jobs", "quiet_tensorflow", "interruptible", "INTERRUPTED"]

INTERRUPTED = "interrupted; rerun the same command to resume"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a job returns to the driver.

    Attributes:
      rows: ``results.json`` rows, each with a unique ``"key"``.
      extra: ``results.json`` entries by name.
      arrays: ``{file name under draws/: {array name: ndarray}}``, written as ``.npz``.
    """

    rows: tuple = ()
    extra: dict = dataclasses.field(default_factory=dict)
    arrays: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Job:
    """``function(*args) -> Outcome``, run in a worker.

    ``function`` must be importable by name (a module-level function) and
    ``args`` picklable; ``key`` names the job in ``results.json`` (a rerun skips
    the jobs recorded there); ``cost`` is a relative run time, to start the
    longest jobs first.
    """

    key: str
    function: Callable
    args: tuple = ()
    cost: float = 1.0


def quiet_tensorflow(threads=None):
    """Import TensorFlow, and keep what its C++ side prints out of the terminal; optionally fix its thread count.

    ``TF_CPP_MIN_LOG_LEVEL`` hides its C++ info and warnings, but not the lines
    its libraries print before their logging starts (oneDNN, CUDA, ``cuInit``)
    nor some later ones (oneDNN's ``DT_BOOL``). So the process's file descriptor
    2 goes to ``/dev/null`` from here on, and ``sys.stderr`` (tracebacks,
    warnings, logging, progress bars: everything Python writes) to a copy of
    the terminal's. An import error restores both before it raises. The thread
    count can be fixed after the import, as long as no TensorFlow op has run.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # "frequent retracing": each surrogate compiles its own step
    if "tensorflow" not in sys.modules:
        _import_tensorflow_quietly()
    if threads is not None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def _import_tensorflow_quietly():
    sys.stderr.flush()
    terminal, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        import tensorflow as tf
        import tensorflow_probability  # noqa: F401  (prints the same lines again)

        tf.config.list_physical_devices()  # CUDA's start-up lines; the runtime (and its thread counts) stays open
    except BaseException:
        os.dup2(terminal, 2)
        os.close(terminal)
        raise
    sys.stderr = os.fdopen(terminal, "w", buffering=1)


def _prepare_worker():
    """Once per worker process: quiet, single-threaded TensorFlow, and no PyMC chatter.

    One thread each: workers share the machine's cores, and a fixed thread
    count keeps the arithmetic the same on every executor. PyMC sets its logger
    to INFO on import unless the root logger has a handler; divergences are
    counted in the results instead. PyTensor's advice to install a BLAS is not
    for the terminal of a user who runs NUTS for a few seconds.
    """
    if getattr(_prepare_worker, "done", False):
        return
    if not logging.root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    quiet_tensorflow(threads=1)
    _prepare_worker.done = True


def _work(job):
    _prepare_worker()
    return job.function(*job.args)


@contextlib.contextmanager
def _sigint_held():
    """Processes started inside inherit a blocked SIGINT: Ctrl-C reaches the driver only, which stops them.

    Blocked, not ignored: a Ctrl-C that comes while a worker is being spawned (seconds on a loaded machine)
    is held and raised in the driver when the block ends, where an ignored one was lost.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _LocalProcesses(concurrent.futures.ProcessPoolExecutor):
    """Fresh (spawned) worker processes that never see Ctrl-C (it is blocked in them) and are terminated, not
    awaited, on an error; each prepared (``_prepare_worker``) before it unpickles a job, whose module imports TensorFlow."""

    def __init__(self, jobs):
        super().__init__(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_prepare_worker)

    def submit(self, fn, /, *args, **kwargs):
        with _sigint_held():  # workers are spawned on submit
            return super().submit(fn, *args, **kwargs)

    def stop(self):
        processes = list((self._processes or {}).values())  # no public way to end running workers before 3.14
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()


@contextlib.contextmanager
def _local(jobs):
    pool = _LocalProcesses(jobs)
    try:
        yield pool
    except BaseException:
        pool.stop()
        raise
    pool.shutdown()


@contextlib.contextmanager
def _dask(workers=None, address=None):
    """An executor on a new ``LocalCluster`` of ``workers`` processes, or on the cluster at ``address``."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if address is None:
            with _sigint_held():
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                    silence_logs=logging.ERROR))
            address = cluster
        try:
            client = stack.enter_context(Client(address, timeout="20s"))
        except OSError as error:
            raise SystemExit(f"error: no Dask scheduler answers at {address}: {error}") from None
        client.run(_prepare_worker)  # before the workers unpickle a job, whose module imports TensorFlow
        pool = client.get_executor(pure=False)
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False)
            raise
        pool.shutdown()


def executor(jobs=1, dask=None, scheduler=None):
    """A context manager giving the executor the command line asked for (see ``experiments.common.run.add_executor_flags``)."""
    if dask or scheduler:
        return _dask(dask, scheduler)
    return _local(jobs)


def run_jobs(jobs, pool, store, desc):
    """Run ``jobs`` on ``pool``, longest first; ``store(job, outcome)`` each as it finishes, with a progress bar.

    A job that fails does not stop the others: what they compute is stored,
    then the first failure is raised, naming its job.
    """
    from tqdm.auto import tqdm

    jobs = sorted(jobs, key=lambda job: -job.cost)
    failures = []
    with tqdm(total=len(jobs), desc=desc, unit="job") as bar:
        futures = {pool.submit(_work, job): job for job in jobs}
        for future in concurrent.futures.as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:
                error.add_note(f"in job {futures[future].key}")
                failures.append(error)
            else:
                store(futures[future], outcome)
            bar.update()
    if failures:
        raise failures[0]


def interruptible(main):
    """``main`` for ``python -m ...``: Ctrl-C prints one line, no traceback, and exits 130."""

    def run(argv=None):
        try:
            return main(argv)
        except KeyboardInterrupt:
            print(f"\n{INTERRUPTED}", file=sys.stderr, flush=True)
            sys.exit(130)

    return run
