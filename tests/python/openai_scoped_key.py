"""The official `openai` client with a key allowed `parrot` only.

Usage: openai_scoped_key.py BASE_URL API_KEY
"""

import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2], max_retries=0)
assert [m.id for m in client.models.list()] == ["parrot"]
messages = [{"role": "user", "content": "hi"}]
assert client.chat.completions.create(model="parrot", messages=messages).choices[0].message.content
try:
    client.chat.completions.create(model="echo", messages=messages)
    raise AssertionError("echo must be refused")
except openai.PermissionDeniedError as e:
    assert e.status_code == 403 and e.code == "model_not_allowed", (e.status_code, e.code)

print("scoped key: ok")
