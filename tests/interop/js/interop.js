// payorch interop client in JavaScript: kafkajs + @bufbuild/protobuf (protoc-gen-es).
//
//   node interop.js --vectors schemas/testdata [--bootstrap B --prefix P --payments N]
//
// The same checks as tests/interop/python/interop.py (see tests/interop/README.md). The
// generated code is found through PAYORCH_JS_GEN, the packages through NODE_PATH.
// Prints "js: N passed, M failed" last; exit 1 on any failure.
"use strict";
const fs = require("fs");
const path = require("path");
const { create, toBinary, fromBinary, toJson, fromJsonString } = require("@bufbuild/protobuf");
const { Kafka, Partitioners, logLevel, CompressionTypes, CompressionCodecs } = require("kafkajs");
const lz4 = require("lz4js");

// payorch's producers compress with LZ4 (Kafka's framed format); kafkajs ships no codec.
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async (encoder) => Buffer.from(lz4.compress(encoder.buffer)),
  decompress: async (buffer) => Buffer.from(lz4.decompress(buffer)),
});

const GEN = process.env.PAYORCH_JS_GEN;
const commands = require(path.join(GEN, "payments/commands/v1/commands_pb"));
const events = require(path.join(GEN, "payments/events/v1/events_pb"));
const contracts = require(path.join(GEN, "payments/contracts/v1/contracts_pb"));
const invoices = require(path.join(GEN, "payments/invoices/v1/invoices_pb"));
const orders = require(path.join(GEN, "payments/orders/v1/orders_pb"));
const types = require(path.join(GEN, "payments/types/v1/types_pb"));

const LANG = "js";
const SCHEMAS = {
  "payments.commands.v1.CommandEnvelope": commands.CommandEnvelopeSchema,
  "payments.events.v1.EventEnvelope": events.EventEnvelopeSchema,
  "payments.contracts.v1.ContractViolation": contracts.ContractViolationSchema,
  "payments.invoices.v1.InvoiceCommandEnvelope": invoices.InvoiceCommandEnvelopeSchema,
  "payments.invoices.v1.InvoiceEventEnvelope": invoices.InvoiceEventEnvelopeSchema,
  "payments.orders.v1.OrderCommandEnvelope": orders.OrderCommandEnvelopeSchema,
  "payments.orders.v1.OrderEventEnvelope": orders.OrderEventEnvelopeSchema,
};
let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
  return ok;
}

// A JSON value with object keys sorted, so two values compare as strings.
function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}
const sameJson = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

// src/command/hash.h DerivePaymentId.
const M64 = (1n << 64n) - 1n;
const P1 = 0x100000001b3n;
const P2 = (0x00000100000001b3n ^ 0x9e3779b97f4a7c15n) | 1n;
function mix(h) {
  h ^= h >> 30n;
  h = (h * 0xbf58476d1ce4e5b9n) & M64;
  h ^= h >> 27n;
  h = (h * 0x94d049bb133111ebn) & M64;
  return h ^ (h >> 31n);
}
function paymentId(merchant, key) {
  let h1 = 0xcbf29ce484222325n;
  let h2 = 0x84222325cbf29ce4n;
  for (const f of ["payment", merchant, key]) {
    const bytes = Buffer.from(f, "utf8");
    for (const c of bytes) {
      h1 = ((h1 ^ BigInt(c)) * P1) & M64;
      h2 = ((h2 ^ BigInt(c)) * P2) & M64;
    }
    h1 = ((h1 ^ BigInt(bytes.length + 0x1f)) * P1) & M64;
    h2 = ((h2 ^ BigInt(bytes.length + 0x2f)) * P2) & M64;
  }
  const hex = (x) => x.toString(16).padStart(16, "0");
  return `pay_${hex(mix(h1))}${hex(mix(h2 ^ h1))}`;
}

function vectors(dir) {
  const index = JSON.parse(fs.readFileSync(path.join(dir, "index.json")));
  for (const v of index) {
    const schema = SCHEMAS[v.type];
    const raw = new Uint8Array(fs.readFileSync(path.join(dir, `${v.name}.binpb`)));
    const m = fromBinary(schema, raw);
    check(Buffer.from(toBinary(schema, m)).equals(Buffer.from(raw)), `${v.name}: binary re-encodes identically`);
    const text = fs.readFileSync(path.join(dir, `${v.name}.json`), "utf8");
    const j = fromJsonString(schema, text);
    check(Buffer.from(toBinary(schema, j)).equals(Buffer.from(raw)), `${v.name}: JSON decodes to the binary message`);
    check(sameJson(toJson(schema, j), JSON.parse(text)), `${v.name}: JSON prints the same value`);
  }
  const ids = JSON.parse(fs.readFileSync(path.join(dir, "payment_ids.json")));
  const byKey = {};
  for (const v of ids) {
    check(paymentId(v.merchantId, v.idempotencyKey) === v.paymentId, `payment id of ${v.idempotencyKey}`);
    byKey[v.idempotencyKey] = v;
  }
  console.log(`${LANG}: ${index.length} vectors, ${ids.length} payment ids`);
  return byKey;
}

async function live(a, ids) {
  const [cmdTopic, evTopic, deadTopic] = ["commands", "events", "deadletter"].map((t) => `${a.prefix}payorch.${t}`);
  const kafka = new Kafka({ clientId: `interop-${LANG}`, brokers: a.bootstrap.split(","), logLevel: logLevel.ERROR });
  // DefaultPartitioner: murmur2 on the key, as Java clients.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const sent = {};
  const pids = [];
  for (let i = 0; i < a.payments; i++) {
    const key = `${LANG}-${i}`;
    const pid = paymentId("m_cobranded", key);
    pids.push(pid);
    const env = create(commands.CommandEnvelopeSchema, {
      schemaVersion: 1,
      commandId: `${LANG}-cmd-${i}`,
      correlationId: `${LANG}-corr-${i}`,
      command: {
        case: "create",
        value: create(commands.CreatePaymentSchema, {
          merchantId: "m_cobranded",
          idempotencyKey: key,
          confirm: true,
          amount: create(types.MoneySchema, { amountMinor: BigInt(1000 + i), currency: "USD" }),
          method: types.PaymentMethod.CARD,
          captureMode: types.CaptureMode.AUTOMATIC,
        }),
      },
    });
    const [md] = await producer.send({ topic: cmdTopic, acks: -1, messages: [{ key: pid, value: Buffer.from(toBinary(commands.CommandEnvelopeSchema, env)) }] });
    sent[pid] = [md.partition, Number(md.baseOffset)];
    check(md.partition === ids[key].partition, `${pid} went to its murmur2 partition`);
  }
  const garbageKey = `${LANG}-garbage`;
  const garbage = Buffer.from([0x0a, 0x05, 0x61, 0x62]);
  const [gm] = await producer.send({ topic: cmdTopic, acks: -1, messages: [{ key: garbageKey, value: garbage }] });
  const g = [gm.partition, Number(gm.baseOffset)];
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${a.prefix}interop-${LANG}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [evTopic, deadTopic], fromBeginning: true });
  const final = new Set();
  const kinds = new Set();
  let rejected = false;
  let deadOk = false;
  let counted = 0;
  let resolve;
  const done = new Promise((r) => (resolve = r));
  const finished = () => final.size === pids.length && rejected && deadOk;
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const key = message.key ? message.key.toString() : "";
      if (topic === deadTopic) {
        if (key !== garbageKey) return;
        const h = Object.fromEntries(Object.entries(message.headers || {}).map(([k, v]) => [k, v ? v.toString() : ""]));
        deadOk = check(message.value.equals(garbage) && h["payorch.reason"] && h["payorch.source.topic"] === cmdTopic &&
          h["payorch.source.partition"] === String(g[0]) && h["payorch.source.offset"] === String(g[1]),
          `dead-letter record and headers: ${JSON.stringify(h)}`);
      } else {
        let e;
        try {
          e = fromBinary(events.EventEnvelopeSchema, new Uint8Array(message.value));
        } catch (err) {
          check(false, `event decodes: ${err}`);
          return;
        }
        const kind = e.event.case;
        check(kind !== undefined && e.schemaVersion === 1, "event has a type");
        kinds.add(kind);
        if (kind === "writerClaimed") {
          check(key === "claim", "WriterClaimed key is 'claim'");
        } else if (sent[e.paymentId]) {
          counted++;
          check(key === e.paymentId, "event key = payment id");
          check(partition === sent[e.paymentId][0], "event partition = command partition");
          check(e.eventId === `${e.paymentId}/${e.sequence}`, "event id = payment/sequence");
          check(e.causation && e.causation.topic === cmdTopic, "causation names the commands topic");
          if (kind === "paymentCompleted" || kind === "paymentFailed") final.add(e.paymentId);
        }
        if (kind === "commandRejected" && e.causation && e.causation.partition === g[0] && Number(e.causation.offset) === g[1]) {
          rejected = true;
        }
      }
      if (finished()) resolve();
    },
  });
  await Promise.race([done, new Promise((r) => setTimeout(r, a.timeout * 1000))]);
  await consumer.disconnect();
  check(final.size === pids.length, `every payment reached a final event (${final.size}/${pids.length})`);
  check(rejected, "the undecodable command was rejected");
  check(deadOk, "the undecodable command reached the dead-letter topic");
  console.log(`${LANG}: live ${final.size} payments final, ${counted} events, types ${[...kinds].sort().join(",")}`);
}

async function main() {
  const a = { prefix: "", payments: 16, timeout: 90 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, "")] = argv[i + 1];
  a.payments = Number(a.payments);
  a.timeout = Number(a.timeout);
  const ids = vectors(a.vectors);
  if (a.bootstrap) await live(a, ids);
  console.log(`${LANG}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.log(`FAIL: ${err.stack || err}`);
  console.log(`${LANG}: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
