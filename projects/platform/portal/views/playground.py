"""Model playground: chat with the platform's model server through /v1/chat/completions, streamed."""

from __future__ import annotations

import httpx
import streamlit as st

from projects.platform.portal.client import Api

api = Api.from_settings()

st.title("Model playground")
st.caption(
    f"Streams from {api.base_url}/v1/chat/completions with the OpenAI client (the same code works against vLLM)."
)

try:
    models = api.models()
except (httpx.HTTPError, KeyError, ValueError) as exc:
    st.error(f"The platform API at {api.base_url} is unreachable or not serving models: {exc}")
    st.stop()

with st.sidebar:
    model = st.selectbox("Model", models)
    system = st.text_area("System prompt", "You are a concise, helpful assistant.")
    temperature = st.slider("Temperature", 0.0, 1.5, 0.0, 0.1)
    max_tokens = st.slider("Max tokens", 16, 1024, 256, 16)
    if st.button("Clear conversation"):
        st.session_state.pop("messages", None)

messages: list[dict] = st.session_state.setdefault("messages", [])
for message in messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

prompt = st.chat_input("Ask the model")
if prompt:
    messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        try:
            answer = st.write_stream(
                api.chat_stream(
                    model,
                    [{"role": "system", "content": system}, *messages],
                    max_tokens=max_tokens,
                    temperature=temperature,
                )
            )
            messages.append({"role": "assistant", "content": answer if isinstance(answer, str) else str(answer)})
        except Exception as exc:  # the API's problem body is in the message; show it instead of a traceback
            st.error(f"Chat request failed: {exc}")
