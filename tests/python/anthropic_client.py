"""Drives confab's Anthropic-compatible `/v1/messages` with the official `anthropic` package.

Usage: anthropic_client.py BASE_URL API_KEY MOCK_URL MODEL... (each MODEL goes to the mock
provider in another wire format). Exits non-zero on the first failed check.
"""

import base64
import json
import sys
import urllib.request

import anthropic

# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4ea0000000049454e44ae426082"
    )
).decode()

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def last_request(mock_url: str, model: str) -> str:
    """The body of the mock's last request for `model`, as JSON text."""
    with urllib.request.urlopen(f"{mock_url}/_mock/requests?model={model}") as response:
        requests = json.load(response)
    assert requests, f"the mock got no request for {model}"
    return json.dumps(requests[-1]["body"])


def plain(client: anthropic.Anthropic, model: str) -> str:
    asked = [{"role": "user", "content": "official client says hello"}]
    whole = client.messages.create(model=model, max_tokens=64, system="You are terse.", messages=asked)
    assert whole.type == "message" and whole.role == "assistant", whole
    assert whole.id.startswith("msg_"), whole.id
    assert whole.model == model, whole.model
    assert [block.type for block in whole.content] == ["text"], whole.content
    assert whole.content[0].text == "Mock reply to: official client says hello", whole.content
    assert whole.stop_reason == "end_turn" and whole.stop_sequence is None, whole
    assert whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0, whole.usage
    return whole.content[0].text


def streamed(client: anthropic.Anthropic, model: str, text: str) -> None:
    asked = [{"role": "user", "content": "official client says hello"}]
    with client.messages.stream(model=model, max_tokens=64, system="You are terse.", messages=asked) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == text, pieces
    assert len(pieces) > 1, "the reply should come in pieces"
    assert final.content[0].text == text and final.stop_reason == "end_turn", final
    assert final.usage.output_tokens > 0, final.usage

    events = list(client.messages.create(model=model, max_tokens=64, messages=asked, stream=True))
    names = [event.type for event in events]
    # The SDK drops `ping` events.
    assert names[:2] == ["message_start", "content_block_start"], names
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"], names
    assert events[-2].delta.stop_reason == "end_turn", events[-2]
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == text, deltas


def image(client: anthropic.Anthropic, mock_url: str, model: str) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "What is in this picture?"},
    ]
    reply = client.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": content}])
    assert reply.content[0].text == "Mock reply to: What is in this picture?", reply.content
    assert PNG in last_request(mock_url, model), "the image did not reach the provider"


def tools(client: anthropic.Anthropic, mock_url: str, model: str) -> None:
    turns = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C and sunny"},
                {"type": "text", "text": "Summarise it."},
            ],
        },
    ]
    reply = client.messages.create(
        model=model, max_tokens=64, tools=[WEATHER], tool_choice={"type": "auto"}, messages=turns
    )
    assert reply.content[0].text == "Mock reply to: Summarise it.", reply.content
    sent = last_request(mock_url, model)
    for piece in ["get_weather", "The weather in a city", "Paris", "18 C and sunny"]:
        assert piece in sent, f"{piece!r} did not reach the provider: {sent}"


def errors(client: anthropic.Anthropic, base_url: str, model: str) -> None:
    asked = [{"role": "user", "content": "hi"}]
    try:
        client.messages.create(model="no-such-model", max_tokens=16, messages=asked)
        raise AssertionError("an unknown model must fail")
    except anthropic.NotFoundError as e:
        assert e.status_code == 404 and e.body["error"]["type"] == "not_found_error", e.body

    try:
        client.messages.create(model=model, max_tokens=16, messages=[{"role": "assistant", "content": "hi"}])
        raise AssertionError("a conversation ending with the assistant must fail")
    except anthropic.BadRequestError as e:
        assert e.status_code == 400 and e.body["error"]["type"] == "invalid_request_error", e.body

    bad = anthropic.Anthropic(base_url=base_url, api_key="cfk_wrong", max_retries=0)
    try:
        bad.messages.create(model=model, max_tokens=16, messages=asked)
        raise AssertionError("a bad key must fail")
    except anthropic.AuthenticationError as e:
        assert e.status_code == 401 and e.body["type"] == "error", e.body
        assert e.body["error"]["type"] == "authentication_error", e.body


def main(base_url: str, api_key: str, mock_url: str, *models: str) -> None:
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
    bearer = anthropic.Anthropic(base_url=base_url, auth_token=api_key, max_retries=0)
    for model in models:
        text = plain(client, model)
        assert plain(bearer, model) == text
        streamed(client, model, text)
        image(client, mock_url, model)
        tools(client, mock_url, model)
        errors(client, base_url, model)
        print(f"anthropic client over {model}: ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
