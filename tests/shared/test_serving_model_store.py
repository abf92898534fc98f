"""The model store: packaged GGUF -> converted cache folder, once, safely under concurrency."""

from __future__ import annotations

import json
import threading

import pytest
import safetensors
import torch

from shared.serving import model_store
from shared.serving.model_store import ModelIntegrityError, ensure_converted
from shared.settings import LOCAL_MODELS, LocalModelSpec


def test_every_packaged_model_records_its_sha256():
    assert all(spec.sha256 and len(spec.sha256) == 64 for spec in LOCAL_MODELS.values())


def test_sha_mismatch_is_refused():
    spec = LocalModelSpec(package_prefix="x", parts=1, gguf_filename="x.gguf", sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        model_store._check_sha("x", spec, "1" * 64)


@pytest.mark.slow
def test_concurrent_first_loads_convert_once(tmp_path, monkeypatch):
    calls = []
    real = model_store._convert
    monkeypatch.setattr(model_store, "_convert", lambda name, target: (calls.append(name), real(name, target)))
    paths = []
    threads = [
        threading.Thread(target=lambda: paths.append(ensure_converted("smollm2-135m-instruct", tmp_path)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(paths)) == 1 and len(paths) == 2
    folder = paths[0]
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert {"model.safetensors", "generation_config.json", "tokenizer.json", "conversion.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")] == []  # no temp left over
    bf16 = ensure_converted("smollm2-135m-instruct", tmp_path, "bfloat16")  # the serving copy, derived once
    assert bf16.parent == folder
    with safetensors.safe_open(str(bf16 / "model.safetensors"), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.bfloat16
    assert len(calls) == 1
