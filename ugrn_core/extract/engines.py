"""Where extraction chunks run: in this process, or as Ray tasks on many workers and GPUs.

A chunk (a few source genes, one draw of real cells) is the unit of work, of caching and of
scale-out. Both engines compute a chunk the same way (:func:`run_chunk`) and write it to the
same content-keyed cache, so a chunk finished by a Ray worker is a cache hit for the app or
the CLI later, and a run that was interrupted (a killed worker, a closed session) resumes
from the chunks already on disk. On a cluster the cache folder must be a shared file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import numpy as np

from ..errors import UGRNError
from ..models.foundation import FoundationModel
from .base import ExtractionContext
from .cache import FeatureCache

ENGINES = ("local", "ray")


@dataclass
class ChunkWork:
    """What every chunk of one extraction shares (picklable: it travels to Ray workers)."""

    method: str
    genes: list[str]
    background: float
    mean_values: np.ndarray | None
    batch_size: int
    context: str
    folds: int
    fill: str
    grid: np.ndarray | None


@dataclass
class ChunkJob:
    """One chunk: its cache key, its source positions and its sample of real cells."""

    key: str
    positions: np.ndarray
    cells: np.ndarray | None = None
    done0: int = 0  # forwards finished before this chunk (for progress within it)
    vvp_key: str | None = None  # a GT chunk: where to store the VVP chunk its pass also gives


def run_chunk(work: ChunkWork, model: FoundationModel, job: ChunkJob, cache: FeatureCache | None,
              progress=None, total: int = 0) -> np.ndarray:
    """The chunk's features: from the cache, or computed and cached (one process computes,
    the others wait on the key's lock and then read)."""
    from . import compute_gt_and_vvp, compute_method  # the extractors; imported late to avoid a cycle

    def context() -> ExtractionContext:
        return ExtractionContext(model, work.genes, work.background, work.mean_values, work.batch_size,
                                 work.context, work.folds, work.fill, job.cells)

    report = progress or (lambda d, t: None)
    if cache is None:
        return compute_method(work.method, context(), job.positions, work.grid, report, job.done0, total)

    def compute() -> dict[str, np.ndarray]:
        if job.vvp_key is not None and not cache.path(job.vvp_key).exists():
            arr, vvp = compute_gt_and_vvp(context(), job.positions, work.grid, report, job.done0, total)
            cache.get_or_compute(job.vvp_key, lambda: {"features": vvp})
            return {"features": arr}
        return {"features": compute_method(work.method, context(), job.positions, work.grid, report, job.done0, total)}

    return cache.get_or_compute(job.key, compute)["features"]


class LocalEngine:
    """Chunks one after another in this process, on the model's own device."""

    name = "local"

    def run(self, work: ChunkWork, model: FoundationModel, jobs: list[ChunkJob], cache: FeatureCache | None,
            progress: Callable[[int, int], None], total: int, sizes: list[int]) -> list[np.ndarray]:
        out = []
        for job, size in zip(jobs, sizes):
            out.append(run_chunk(work, model, job, cache, progress, total))
            progress(min(job.done0 + size, total), total)
        return out


class RayNotInstalledError(UGRNError):
    """``--engine ray`` without the ``ray`` package."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayNotInstalledError(
            "--engine ray needs the Ray package, which is an optional extra: pip install 'ugrn-explorer[ray]' "
            "(or pip install 'ray>=2.40'), or run with --engine local."
        ) from None
    return ray


# Per Ray worker process: the models it has loaded, by digest, precision and device, so a
# worker deserialises (and moves to its GPU) each model once, however many chunks it runs.
_WORKER_MODELS: dict[tuple[str, str, str], FoundationModel] = {}


def _worker_model(model_box: list, digest: str, precision: str, use_gpu: bool) -> FoundationModel:
    import torch

    device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
    key = (digest, precision, device)
    if key not in _WORKER_MODELS:
        import ray

        model = ray.get(model_box[0])  # boxed in a list so Ray hands over the reference, not the model
        _WORKER_MODELS[key] = model.to(device)
    return _WORKER_MODELS[key]


def _ray_chunk(work: ChunkWork, model_box: list, digest: str, precision: str, use_gpu: bool,
               job: ChunkJob, cache_root: str | None) -> np.ndarray:
    model = _worker_model(model_box, digest, precision, use_gpu)
    cache = FeatureCache(cache_root) if cache_root is not None else None
    return run_chunk(work, model, job, cache)


@dataclass
class RayEngine:
    """Chunks as Ray tasks: each worker loads the model once; a task whose worker dies is
    retried (``max_retries``) and, with a cache, a retried chunk that had finished is read back.

    address: ``None`` starts a Ray instance on this machine (all its CPUs and GPUs);
        ``"auto"`` joins the cluster this machine is part of; ``"HOST:PORT"`` a remote head.
    gpus_per_task / cpus_per_task: what each chunk asks of a worker (1 GPU per task puts one
        chunk on each GPU at a time).
    """

    address: str | None = None
    gpus_per_task: float = 0
    cpus_per_task: float = 1
    max_retries: int = 3
    init_kwargs: dict = field(default_factory=dict)
    name: ClassVar[str] = "ray"

    def _ensure_ray(self):
        ray = _import_ray()
        if not ray.is_initialized():
            kwargs = {"log_to_driver": False, "include_dashboard": False, **self.init_kwargs}
            if self.address is not None:
                kwargs.pop("include_dashboard", None)
            try:
                ray.init(address=self.address, **kwargs)
            except ConnectionError as exc:
                raise UGRNError(
                    f"Could not reach a Ray cluster at {self.address!r} ({exc}). Start one (`ray start --head`), "
                    "check the address, or leave --address out to run Ray on this machine."
                ) from None
        return ray

    def run(self, work: ChunkWork, model: FoundationModel, jobs: list[ChunkJob], cache: FeatureCache | None,
            progress: Callable[[int, int], None], total: int, sizes: list[int]) -> list[np.ndarray]:
        ray = self._ensure_ray()
        if cache is not None:  # chunks already on disk are not sent anywhere
            todo = [i for i, job in enumerate(jobs) if not cache.path(job.key).exists()]
        else:
            todo = list(range(len(jobs)))
        results: dict[int, np.ndarray] = {}
        remote = ray.remote(_ray_chunk).options(
            num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task, max_retries=self.max_retries,
            retry_exceptions=False)
        cpu_model = model if model.device.type == "cpu" else _cpu_copy(model)
        model_box = [ray.put(cpu_model)]
        root = None if cache is None else str(cache.root)
        use_gpu = self.gpus_per_task > 0
        pending = {remote.remote(work, model_box, model.digest, model.precision, use_gpu, jobs[i], root): i
                   for i in todo}
        done = sum(sizes) - sum(sizes[i] for i in todo)
        progress(min(done, total), total)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    for other in pending:
                        ray.cancel(other)
                    raise UGRNError(
                        f"A Ray task failed {self.max_retries + 1} times on chunk {i + 1} of {len(jobs)} "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]}). Chunks that finished are "
                        "cached; rerun to resume, or use --engine local to see the error in this process."
                    ) from None
                done += sizes[i]
                progress(min(done, total), total)
        # chunks that were on disk before the run are read back here
        return [results[i] if i in results else run_chunk(work, model, jobs[i], cache) for i in range(len(jobs))]


def _cpu_copy(model: FoundationModel) -> FoundationModel:
    import copy

    clone = copy.deepcopy(model)
    return clone.to("cpu")


def make_engine(engine: str | LocalEngine | RayEngine | None = None, address: str | None = None,
                gpus_per_task: float = 0) -> LocalEngine | RayEngine:
    """``"local"`` (default), ``"ray"`` (with ``address`` / ``gpus_per_task``) or an engine object."""
    if engine is None or engine == "local":
        return LocalEngine()
    if engine == "ray":
        return RayEngine(address=address, gpus_per_task=gpus_per_task)
    if isinstance(engine, (LocalEngine, RayEngine)):
        return engine
    raise ValueError(f"Unknown engine {engine!r}; choose from {', '.join(ENGINES)}.")


__all__ = ["ENGINES", "ChunkJob", "ChunkWork", "LocalEngine", "RayEngine", "RayNotInstalledError", "make_engine",
           "run_chunk"]
