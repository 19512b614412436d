"""Drives confab's OpenAI-compatible API with the official `openai` package.

Usage: openai_client.py BASE_URL API_KEY MODEL. Exits non-zero on the first failed check.
"""

import sys

import openai


def main(base_url: str, api_key: str, model: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0)

    listed = [m.id for m in client.models.list()]
    assert model in listed, listed

    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "official client says hello"},
    ]
    whole = client.chat.completions.create(model=model, messages=messages)
    assert whole.object == "chat.completion", whole
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].message.content, whole
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage and whole.usage.total_tokens > 0

    stream = client.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
    assert "".join(pieces) == whole.choices[0].message.content, pieces
    assert usage and usage.total_tokens > 0, usage

    try:
        client.chat.completions.create(model="no-such-model", messages=messages)
        raise AssertionError("an unknown model must fail")
    except openai.NotFoundError as e:
        assert e.status_code == 404

    bad = openai.OpenAI(base_url=f"{base_url}/v1", api_key="cfk_wrong", max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("a bad key must fail")
    except openai.AuthenticationError as e:
        assert e.status_code == 401

    print("openai client: ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
