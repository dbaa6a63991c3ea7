"""Fitting the core classifier on Ray Train workers (TorchTrainer), CPU or GPU with the same code.

The per-worker function runs ``alertsieve.model.fit`` with Ray's hooks: batches come from the worker's
Ray Data shard, the model is prepared for distributed data parallel, losses are reported each epoch and
rank 0 returns the weights as a checkpoint. Registered as the ``ray`` backend of ``alertsieve train``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from alertsieve.model import AlertClassifier, FitHooks, TrainParams, fit, make_classifier
from train_app.ray_runtime import ensure_ray

WEIGHTS = "model.pt"


def _train_loop_per_worker(config: dict[str, Any]) -> None:
    params = TrainParams.model_validate(config["params"])
    n_dense, n_emb = int(config["n_dense"]), int(config["n_embedding"])
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()

    def batches(epoch: int):  # type: ignore[no-untyped-def]
        for batch in shard.iter_torch_batches(
            batch_size=params.batch_size,
            dtypes=torch.float32,
            local_shuffle_buffer_size=4 * params.batch_size,
            local_shuffle_seed=params.seed + epoch,
        ):
            data = batch["data"]
            yield data[:, :n_dense], data[:, n_dense : n_dense + n_emb], data[:, -1]

    def report(epoch: int, loss: float) -> None:
        if epoch < params.epochs - 1:
            ray.train.report({"epoch": epoch, "loss": loss})
            return
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if ray.train.get_context().get_world_rank() == 0:
                torch.save(getattr(model, "module", model).state_dict(), Path(tmp) / WEIGHTS)
                checkpoint = Checkpoint.from_directory(tmp)
            ray.train.report({"epoch": epoch, "loss": loss}, checkpoint=checkpoint)

    model = make_classifier(n_dense, n_emb, params)
    hooks = FitHooks(prepare_model=ray.train.torch.prepare_model, device=device, report=report)
    fit(model, batches, params, hooks)


class RayTorchFit:
    """A ``FitBackend`` that trains on Ray Train workers."""

    name = "ray"

    def __init__(self, num_workers: int = 1, use_gpu: bool = False, cpus_per_worker: float = 1.0) -> None:
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.cpus_per_worker = cpus_per_worker

    def fit(self, dense: np.ndarray, embedding: np.ndarray, labels: np.ndarray, params: TrainParams) -> AlertClassifier:
        ensure_ray()
        table = np.hstack([dense, embedding, labels.reshape(-1, 1)]).astype(np.float32)
        dataset = ray.data.from_numpy(table)
        with tempfile.TemporaryDirectory() as storage:
            trainer = TorchTrainer(
                _train_loop_per_worker,
                train_loop_config={
                    "params": params.model_dump(),
                    "n_dense": dense.shape[1],
                    "n_embedding": embedding.shape[1],
                },
                scaling_config=ScalingConfig(
                    num_workers=self.num_workers,
                    use_gpu=self.use_gpu,
                    resources_per_worker={"CPU": self.cpus_per_worker},
                ),
                run_config=RunConfig(storage_path=storage, name="alertsieve-fit"),
                datasets={"train": dataset},
            )
            result = trainer.fit()
            if result.checkpoint is None:
                raise RuntimeError(f"Ray Train returned no checkpoint: {result.error}")
            with result.checkpoint.as_directory() as directory:
                state = torch.load(Path(directory) / WEIGHTS, map_location="cpu", weights_only=True)
        model = make_classifier(dense.shape[1], embedding.shape[1], params)
        model.load_state_dict(state)
        return model
