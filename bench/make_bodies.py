"""Request bodies for the benchmark: a small one and a Claude-Code-shaped ~200 KB one."""
import json
import random


def small(stream):
    return json.dumps({"model": "claude-sonnet-4-5-20250929", "max_tokens": 256, "stream": stream,
                       "messages": [{"role": "user", "content": "Say hello in five words."}]}, separators=(",", ":"))


def claude_code(target_bytes=200_000):
    """3 system blocks, 12 tools, a long tool_use/tool_result conversation, metadata.user_id as JSON text."""
    rnd = random.Random(42)
    words = "the relay forwards every byte as it arrives and meters tokens exactly once per request".split()

    def text(n):
        return " ".join(rnd.choice(words) for _ in range(n))

    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.92.a1b; cc_entrypoint=cli;"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": text(1500), "cache_control": {"type": "ephemeral"}},
    ]
    tools = [{"name": f"Tool{i}", "description": text(120),
              "input_schema": {"type": "object", "properties": {"arg": {"type": "string", "description": text(20)}},
                               "required": ["arg"]}} for i in range(12)]
    messages = [{"role": "user", "content": [{"type": "text", "text": text(80)}]}]
    body = {}
    i = 0
    while True:
        tool_id = f"toolu_{i:020d}"
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": text(40)},
            {"type": "tool_use", "id": tool_id, "name": f"Tool{i % 12}", "input": {"arg": text(10)}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": text(300)}]})
        i += 1
        body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 32000, "stream": True, "system": system,
                "tools": tools, "messages": messages,
                "metadata": {"user_id": json.dumps({"device_id": "3f9a" * 16, "account_uuid": "",
                                                    "session_id": "5d0c1c1e-7a4f-4e0e-9b1d-2f5d9e6c1a70"})},
                "thinking": {"type": "adaptive"}}
        if len(json.dumps(body, separators=(",", ":"))) >= target_bytes:
            break
    messages.append({"role": "user", "content": [{"type": "text", "text": "Continue."}]})
    return json.dumps(body, separators=(",", ":"))
