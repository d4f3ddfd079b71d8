"""The SageMaker wire format (llm/sagemaker_protocol.py): pure round trips, no server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from botocore.eventstream import EventStreamBuffer

from llm.protocol import ChatMessage, GenerationParams
from llm.sagemaker_protocol import (
    JsonLineBuffer,
    LMIHandler,
    ModelStreamError,
    StopTrimmer,
    WireFormatError,
    encode_model_stream_error,
    encode_payload_part,
    merge_for_alternation,
    mistral_prompt,
)

handler = LMIHandler()


# --- prompts ----------------------------------------------------------------------------------------


def test_mistral_prompt_single_turn():
    assert (
        mistral_prompt([ChatMessage("user", "Where is the VPN guide?")]) == "<s>[INST] Where is the VPN guide? [/INST]"
    )


def test_mistral_prompt_multi_turn_with_system_folded_into_first_user_turn():
    messages = [
        ChatMessage("system", "Answer from the handbook."),
        ChatMessage("user", "Q1"),
        ChatMessage("assistant", "A1"),
        ChatMessage("user", "Q2"),
    ]
    assert mistral_prompt(messages) == "<s>[INST] Answer from the handbook.\n\nQ1 [/INST] A1</s>[INST] Q2 [/INST]"


def test_merge_for_alternation_joins_consecutive_turns_and_starts_with_user():
    turns = merge_for_alternation(
        [ChatMessage("assistant", "hello"), ChatMessage("user", "a"), ChatMessage("user", "b")]
    )
    assert [(t.role, t.content) for t in turns] == [("user", ""), ("assistant", "hello"), ("user", "a\n\nb")]


def test_unknown_prompt_format_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="mistral"):
        LMIHandler("llama9")


# --- generation request / response -----------------------------------------------------------------


def test_request_round_trip_keeps_the_generation_parameters():
    params = GenerationParams(max_new_tokens=77, temperature=0.5, top_p=0.8, stop=("</s>", "\nQ:"))
    body = handler.encode_request([ChatMessage("user", "Hi?")], params, stream=True)
    payload = json.loads(body)
    assert payload["parameters"] == {
        "max_new_tokens": 77,
        "do_sample": True,
        "temperature": 0.5,
        "top_p": 0.8,
        "stop": ["</s>", "\nQ:"],
    }
    assert payload["stream"] is True
    request = handler.decode_request(body)
    assert request.inputs == "<s>[INST] Hi? [/INST]"
    assert request.params == params
    assert request.stream is True


def test_greedy_request_omits_temperature_which_tgi_refuses_at_zero():
    payload = json.loads(handler.encode_request([ChatMessage("user", "x")], GenerationParams(temperature=0.0)))
    assert payload["parameters"]["do_sample"] is False
    assert "temperature" not in payload["parameters"] and "top_p" not in payload["parameters"]
    assert "stream" not in payload
    assert handler.decode_request(json.dumps(payload).encode()).params.temperature == 0.0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"prompt": "x"}',
        b'{"inputs": 3}',
        b'{"inputs": "x", "parameters": {"max_new_tokens": "many"}}',
        b'{"inputs": "x", "parameters": {"max_new_tokens": 0}}',
    ],
)
def test_bad_requests_raise_wire_format_error(body):
    with pytest.raises(WireFormatError):
        handler.decode_request(body)


@pytest.mark.parametrize("body", [b'[{"generated_text": "Hi"}]', b'{"generated_text": "Hi"}', b'{"outputs": ["Hi"]}'])
def test_decode_response_accepts_list_object_and_lmi_shapes(body):
    assert handler.decode_response(body) == "Hi"


def test_decode_response_round_trip_and_bad_shape():
    assert handler.decode_response(handler.encode_response("Zürich ✓")) == "Zürich ✓"
    with pytest.raises(WireFormatError, match="generated_text"):
        handler.decode_response(b'{"answer": "x"}')


# --- streaming lines ------------------------------------------------------------------------------


def test_stream_lines_reassembled_across_any_chunk_boundary():
    pieces = ["The ", "VPN guide", " is on the IT wiki", ".\n", "é"]
    raw = b"".join(handler.encode_stream_line(p) for p in pieces)
    for size in (1, 2, 3, 7, 64):
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert list(handler.decode_stream(chunks)) == pieces


def test_stream_accepts_tgi_sse_special_tokens_and_lmi_lines():
    raw = (
        b'data:{"token": {"text": "A", "special": false}}\n\n'
        b'data:{"token": {"text": "</s>", "special": true}, "generated_text": "A"}\n\n'
        b'{"outputs": ["B"]}\n'
        b'{"generated_text": "C"}'  # last line without its newline
    )
    assert list(handler.decode_stream([raw])) == ["A", "B", "C"]


def test_error_line_raises_model_stream_error_after_the_text_before_it():
    raw = handler.encode_stream_line("partial") + handler.encode_stream_error("CUDA out of memory")
    received = []
    with pytest.raises(ModelStreamError, match="CUDA out of memory"):
        for piece in handler.decode_stream([raw]):
            received.append(piece)
    assert received == ["partial"]


def test_json_line_buffer_rejects_garbage_lines():
    with pytest.raises(WireFormatError, match="not JSON"):
        JsonLineBuffer().feed(b"<html>502 Bad Gateway</html>\n")


# --- stop sequences -------------------------------------------------------------------------------


def test_stop_trimmer_cuts_at_a_stop_split_across_pieces():
    trimmer = StopTrimmer(["\nQuestion:"])
    out = "".join(trimmer.feed(p) for p in ["Answer is 25", "\nQues", "tion: next?"]) + trimmer.flush()
    assert out == "Answer is 25"
    assert trimmer.stopped


def test_stop_trimmer_releases_a_held_back_false_alarm():
    trimmer = StopTrimmer(["</s>"])
    assert trimmer.feed("a <") == "a "
    assert trimmer.feed("b") == "<b"
    assert trimmer.flush() == ""


# --- feature extraction ----------------------------------------------------------------------------


def test_embedding_request_round_trip():
    assert handler.decode_embedding_request(handler.encode_embedding_request(["a", "b"])) == ["a", "b"]
    assert handler.decode_embedding_request(b'{"inputs": "one"}') == ["one"]
    with pytest.raises(WireFormatError):
        handler.decode_embedding_request(b'{"inputs": [1, 2]}')


def test_embedding_response_pooled_and_token_level():
    pooled = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    assert np.allclose(handler.decode_embedding_response(handler.encode_embedding_response(pooled), 2), pooled)
    token_level = json.dumps([[[1.0, 0.0], [3.0, 2.0]], [[[0.0, 4.0]]]]).encode()  # ragged, one with a batch axis
    assert np.allclose(handler.decode_embedding_response(token_level, 2), [[2.0, 1.0], [0.0, 4.0]])


def test_embedding_response_count_mismatch_names_both_numbers():
    with pytest.raises(WireFormatError, match="Expected 3 vectors.*got 2"):
        handler.decode_embedding_response(b"[[1.0], [2.0]]", 3)


# --- AWS event-stream framing, checked with botocore's own parser -----------------------------------


def _decode_events(raw: bytes, chunk: int) -> list:
    buffer, messages = EventStreamBuffer(), []
    for i in range(0, len(raw), chunk):
        buffer.add_data(raw[i : i + chunk])
        messages.extend(buffer)
    return messages


def test_payload_parts_decode_with_botocore_and_lines_reassemble():
    lines = b"".join(handler.encode_stream_line(p) for p in ["Hel", "lo ", "wörld"])
    parts = [lines[i : i + 5] for i in range(0, len(lines), 5)]  # JSON lines split across events
    raw = b"".join(encode_payload_part(p) for p in parts)
    messages = _decode_events(raw, chunk=13)
    assert [m.headers for m in messages][0] == {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert [m.payload for m in messages] == parts
    assert list(handler.decode_stream(m.payload for m in messages)) == ["Hel", "lo ", "wörld"]


def test_error_event_decodes_as_exception_with_message():
    (message,) = _decode_events(encode_model_stream_error("GPU fell over", "StreamBroken"), chunk=1000)
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "ModelStreamError"
    assert message.to_response_dict()["status_code"] == 400
    assert json.loads(message.payload) == {"Message": "GPU fell over", "ErrorCode": "StreamBroken"}


def test_corrupted_event_fails_botocore_checksum():
    from botocore.eventstream import ChecksumMismatch

    raw = bytearray(encode_payload_part(b'{"token": {"text": "x"}}\n'))
    raw[-6] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        _decode_events(bytes(raw), chunk=1000)
