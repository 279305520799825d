#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/ (small, checked in).

Binary Protobuf seeds are encoded from text format with protoc. Run from the repository
root: tests/fuzz/make_seeds.py
"""
import os
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def encode(message, text, proto="payments/commands/v1/commands.proto"):
    return subprocess.run(
        ["protoc", "--encode=" + message, "-I", os.path.join(ROOT, "proto"), proto],
        input=text.encode(), capture_output=True, check=True).stdout


def envelope(text):
    return encode("payments.commands.v1.CommandEnvelope", "schema_version: 1\n" + text)


def frame(*records):
    return b"".join(struct.pack("<H", len(r)) + r for r in records)


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


CREATE = ('create { merchant_id: "m_cobranded" idempotency_key: "o1" '
          'amount { amount_minor: 1000 currency: "usd" } method: PAYMENT_METHOD_CARD '
          'capture_mode: CAPTURE_MODE_MANUAL confirm: true '
          'metadata { key: "order_id" value: "4111 1111 1111 1111" } '
          'metadata { key: " source" value: "web" } customer_reference: " c-1 " }')
OK = 'payment_id: "$0" gateway_result { operation_key: "$k" outcome: GATEWAY_OUTCOME_SUCCEEDED source: "call" processor_reference: "r1" }'
UNKNOWN = 'payment_id: "$0" gateway_result { operation_key: "$k" outcome: GATEWAY_OUTCOME_UNKNOWN }'
FAILED = 'payment_id: "$0" gateway_result { operation_key: "$k" outcome: GATEWAY_OUTCOME_FAILED error_code: ERROR_CODE_NETWORK_FAILURE }'
NOTFOUND = 'payment_id: "$0" gateway_result { operation_key: "$k" outcome: GATEWAY_OUTCOME_NOT_FOUND }'

write("command_decoder", "create", frame(envelope(CREATE)))
write("command_decoder", "succeed_then_refund", frame(
    envelope(OK), envelope('payment_id: "$0" refund { amount_minor: 100 idempotency_key: "r1" }'),
    envelope('payment_id: "$0" refund { amount_minor: 100 idempotency_key: "r1" }')))
write("command_decoder", "unknown_then_expire", frame(
    envelope(UNKNOWN), envelope('payment_id: "$0" expire { operation_key: "$k" }'),
    envelope(NOTFOUND)))
write("command_decoder", "fail_retry_cancel", frame(
    envelope(FAILED), envelope(FAILED), envelope(OK),
    envelope('payment_id: "$0" cancel { reason: "x" }')))
write("command_decoder", "void_and_junk", frame(
    envelope('payment_id: "$0" void { reason: "customer" }'), b"\xff\xff\x07", b""))
write("command_decoder", "wrong_schema", frame(encode(
    "payments.commands.v1.CommandEnvelope", 'schema_version: 2 payment_id: "$0" confirm {}')))

create = encode("payments.commands.v1.CreatePayment", CREATE[len("create {"):-1])
write("create_parser", "card_with_pan", b"\x00" + create)
write("create_parser", "jpy_limits", b"\x01" + encode(
    "payments.commands.v1.CreatePayment",
    'merchant_id: "m_jpy" idempotency_key: "k" amount { amount_minor: 5000001 currency: "JPY" }'))
write("create_parser", "text", b"\x00 4111-1111-1111-1111 \xc3\xa9\xe2\x82\xac\xf0\x9f\x92\xb3")

with open(os.path.join(ROOT, "deploy", "config", "merchants.yaml"), "rb") as f:
    write("config_loader", "merchants_yaml", b"\x00" + f.read())
write("config_loader", "minimal_json", b"\x01" + b'{"schemaVersion":1,"merchants":[{"merchantId":"m","profiles":[{"name":"d","steps":[{"processorId":"p","role":"PRIMARY"}]}]}]}')
write("config_loader", "bad_yaml", b"\x00merchants: [ {merchant_id: m, profiles: [ {steps: [ {method: CARDD}]}]}]\n")
write("config_loader", "anchors", b"\x00a: &x [*x]\nschema_version: 1\n")

write("http_dispatch", "get_payment", "GET /v1/payments/pay_123?x=1\r\nAccept: */*\r\n\r\n")
write("http_dispatch", "list", "GET /v1/payments?limit=abc&limit=2\r\n\r\n")
write("http_dispatch", "webhook", 'POST /v1/webhooks/stripe\r\nContent-Type: application/json\r\n\r\n{"id":"evt_1","data":[1,2]}')
write("http_dispatch", "not_found", "DELETE /nope/\xff\r\n\r\n")
write("http_dispatch", "address", "127.0.0.1:0\n")
