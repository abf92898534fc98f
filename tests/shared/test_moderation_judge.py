"""The LLM judge's orchestration with a recording fake chat: the prompt carries the policy and the text, answers
are parsed robustly (fenced, truncated, malformed), evidence is located in the original text, and the cascade
asks the judge only about uncertain texts; build_cascade wires it behind MODERATION__JUDGE."""

from __future__ import annotations

from shared.moderation.cascade import Cascade
from shared.moderation.judge import UNSAFE_SCORE, JudgeDetector, parse_answer
from shared.moderation.normalize import normalize
from shared.moderation.pipeline import build_cascade
from shared.moderation.policy import load_policy
from shared.moderation.signals import CATEGORIES, NormalizedText, Signal
from shared.serving.base import ServingError
from shared.settings import ModerationSettings
from shared.testing.doubles import RecordingChat

UNSAFE = '{"verdict": "unsafe", "categories": ["violence"], "evidence": "break your legs"}'


class Fixed:
    """A tier-1 stand-in: a fixed score for texts containing a phrase."""

    name, tier = "knn", 1

    def __init__(self, table: dict[str, tuple[str, float]]) -> None:
        self.table = table

    def detect(self, texts: list[NormalizedText]) -> list[list[Signal]]:
        return [[Signal(c, s, self.name) for k, (c, s) in self.table.items() if k in t.normalized] for t in texts]


def test_the_prompt_carries_every_policy_category_with_its_definition_and_the_text() -> None:
    chat = RecordingChat(UNSAFE)
    policy = load_policy()
    JudgeDetector(chat, policy, constrained=True).detect([normalize("I will break your legs, Tom")])
    (request,) = chat.calls
    assert all(f"{c}: {policy.categories[c].description}" in request.system for c in CATEGORIES)
    assert all(policy.categories[c].description for c in CATEGORIES)
    assert "I will break your legs, Tom" in request.messages[-1].content
    assert request.temperature == 0.0 and request.max_tokens == 48
    assert request.response_schema["properties"]["categories"]["items"]["enum"] == list(CATEGORIES)


def test_unsafe_answer_becomes_signals_with_the_quote_located_in_the_original_text() -> None:
    text = "Honestly?? I will BREAK your legs, Tom"
    (signals,) = JudgeDetector(RecordingChat(UNSAFE), load_policy()).detect([normalize(text)])
    assert [(s.category, s.score, s.detector) for s in signals] == [("violence", UNSAFE_SCORE, "llm_judge")]
    ev = signals[0].evidence[0]
    assert text[ev.start : ev.end] == ev.text == "BREAK your legs"  # found case-insensitively, original casing kept
    assert "violence" in ev.why


def test_a_quote_the_text_does_not_contain_gives_an_empty_span_that_says_so() -> None:
    reply = '{"verdict": "unsafe", "categories": ["harassment"], "evidence": "you are worthless"}'
    (signals,) = JudgeDetector(RecordingChat(reply), load_policy()).detect([normalize("nobody likes you, Tom")])
    ev = signals[0].evidence[0]
    assert (ev.start, ev.end, ev.text) == (0, 0, "") and "not found" in ev.why


def test_safe_answers_add_no_signal() -> None:
    reply = '{"verdict": "safe", "categories": [], "evidence": ""}'
    assert JudgeDetector(RecordingChat(reply), load_policy()).detect([normalize("nice weather")]) == [[]]


def test_answers_are_parsed_robustly() -> None:
    cats = CATEGORIES
    fenced = parse_answer('Sure:\n```json\n{"verdict": "UNSAFE", "categories": ["Hate", "nonsense"]}\n```', cats)
    assert fenced is not None and fenced.verdict == "unsafe" and fenced.categories == ("hate",)
    truncated = parse_answer(
        '{"verdict": "unsafe", "categories": ["violence", "harassment"], "evidence": "I will', cats
    )
    assert (
        truncated is not None and truncated.categories == ("violence", "harassment") and truncated.evidence == "I will"
    )
    assert parse_answer("I cannot help with that.", cats) is None
    assert parse_answer('{"verdict": "unsafe", "categories": ["made-up"]}', cats) is None  # nothing to score
    assert parse_answer('{"verdict": "maybe"}', cats) is None
    assert parse_answer("", cats) is None


def test_malformed_answers_and_backend_failures_leave_no_signal_and_do_not_crash() -> None:
    class Broken(RecordingChat):
        def chat(self, request):
            raise ServingError("model server down")

    texts = [normalize("maybe a fight"), normalize("or not")]
    judge = JudgeDetector(RecordingChat("I think this is fine!!", "{not json"), load_policy(), concurrency=1)
    assert judge.detect(texts) == [[], []]
    assert JudgeDetector(Broken(), load_policy()).detect(texts) == [[], []]


def test_the_cascade_asks_the_judge_only_about_uncertain_texts() -> None:
    chat = RecordingChat(UNSAFE)
    tier1 = Fixed({"maybe": ("violence", 0.5), "surely": ("violence", 0.95)})
    cascade = Cascade([tier1, JudgeDetector(chat, load_policy())], load_policy(), normalize)
    verdicts = cascade.moderate(["maybe I break your legs", "surely a fight", "tea time"])
    assert len(chat.calls) == 1 and "maybe I break your legs" in chat.calls[0].messages[-1].content
    assert verdicts[0].tiers_run == [1, 2] and verdicts[1].tiers_run == [1] and verdicts[2].tiers_run == [1]
    violence = verdicts[0].categories["violence"]
    assert violence.score == UNSAFE_SCORE and violence.detectors == {"knn": 0.5, "llm_judge": UNSAFE_SCORE}
    assert violence.evidence[0].text == "break your legs" and verdicts[0].action == "review"


def test_concurrent_judging_keeps_answers_with_their_texts() -> None:
    class Echo(RecordingChat):
        def chat(self, request):
            self.replies = [UNSAFE if "legs" in request.messages[-1].content else '{"verdict": "safe"}']
            return super().chat(request)

    texts = [normalize(t) for t in ("a", "break your legs", "b", "c", "break your legs again")]
    out = JudgeDetector(Echo(), load_policy(), concurrency=4).detect(texts)
    assert [bool(s) for s in out] == [False, True, False, False, True]


def test_build_cascade_wires_the_judge_behind_the_setting_without_loading_the_llm() -> None:
    def names(settings: ModerationSettings, tiers: str = "full") -> list[str]:
        # the k-NN and packaged tiers load models at construction: stub them to inspect the wiring only
        import shared.moderation.knn as knn
        import shared.moderation.packaged as packaged

        saved = knn.KnnDetector, packaged.PackagedDetector
        knn.KnnDetector = lambda **_: Fixed({})  # type: ignore[assignment]
        packaged.PackagedDetector = lambda: Fixed({})  # type: ignore[assignment]
        try:
            return [type(d).__name__ for d in build_cascade(settings, tiers=tiers).detectors]
        finally:
            knn.KnnDetector, packaged.PackagedDetector = saved

    assert "JudgeDetector" in names(ModerationSettings(judge="llm"))
    assert "JudgeDetector" not in names(ModerationSettings(judge="none"))
    assert "JudgeDetector" not in names(ModerationSettings(judge="llm"), tiers="fast")
