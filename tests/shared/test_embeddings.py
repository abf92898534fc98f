import numpy as np

from shared.serving.embeddings import LocalEmbedder


def test_local_embedder_is_normalised_and_semantic() -> None:
    emb = LocalEmbedder()
    vecs = emb.embed(["How do I reset my password?", "Steps to change a forgotten password", "Quarterly revenue grew"])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
