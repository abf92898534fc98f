"""The moderation cascade: policy, text normalisation, detectors (keywords, packaged classifiers, k-NN, LLM judge).

It lives in ``shared/`` because two kinds of callers need it: the content-moderation service
(``projects/content_moderation``: API, review queue, UI) and the guardrail rails every project runs on its
inputs and outputs (``shared.guardrails``). Import the submodules; nothing heavy loads at package import.
"""
