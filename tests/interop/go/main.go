// payorch interop client in Go: franz-go + google.golang.org/protobuf (protoc-gen-go).
//
//	interop --vectors schemas/testdata [--bootstrap B --prefix P --payments N]
//
// The same checks as tests/interop/python/interop.py (see tests/interop/README.md).
// Prints "go: N passed, M failed" last; exit 1 on any failure.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commandsv1 "payorch.dev/interop/gen/payments/commands/v1"
	contractsv1 "payorch.dev/interop/gen/payments/contracts/v1"
	eventsv1 "payorch.dev/interop/gen/payments/events/v1"
	invoicesv1 "payorch.dev/interop/gen/payments/invoices/v1"
	ordersv1 "payorch.dev/interop/gen/payments/orders/v1"
	typesv1 "payorch.dev/interop/gen/payments/types/v1"
)

const lang = "go"

var passed, failed int

func check(ok bool, what string, args ...any) bool {
	if ok {
		passed++
	} else {
		failed++
		fmt.Printf("FAIL: "+what+"\n", args...)
	}
	return ok
}

func newMessage(t string) proto.Message {
	switch t {
	case "payments.commands.v1.CommandEnvelope":
		return &commandsv1.CommandEnvelope{}
	case "payments.events.v1.EventEnvelope":
		return &eventsv1.EventEnvelope{}
	case "payments.contracts.v1.ContractViolation":
		return &contractsv1.ContractViolation{}
	case "payments.invoices.v1.InvoiceCommandEnvelope":
		return &invoicesv1.InvoiceCommandEnvelope{}
	case "payments.invoices.v1.InvoiceEventEnvelope":
		return &invoicesv1.InvoiceEventEnvelope{}
	case "payments.orders.v1.OrderCommandEnvelope":
		return &ordersv1.OrderCommandEnvelope{}
	case "payments.orders.v1.OrderEventEnvelope":
		return &ordersv1.OrderEventEnvelope{}
	}
	return nil
}

func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ (h >> 31)
}

// paymentID is src/command/hash.h DerivePaymentId.
func paymentID(merchant, key string) string {
	const p1 = uint64(0x100000001b3)
	const p2 = (uint64(0x00000100000001b3) ^ uint64(0x9e3779b97f4a7c15)) | 1
	h1, h2 := uint64(0xcbf29ce484222325), uint64(0x84222325cbf29ce4)
	for _, f := range []string{"payment", merchant, key} {
		for i := 0; i < len(f); i++ {
			h1 = (h1 ^ uint64(f[i])) * p1
			h2 = (h2 ^ uint64(f[i])) * p2
		}
		h1 = (h1 ^ (uint64(len(f)) + 0x1f)) * p1
		h2 = (h2 ^ (uint64(len(f)) + 0x2f)) * p2
	}
	return fmt.Sprintf("pay_%016x%016x", mix(h1), mix(h2^h1))
}

type idVector struct {
	MerchantID     string `json:"merchantId"`
	IdempotencyKey string `json:"idempotencyKey"`
	PaymentID      string `json:"paymentId"`
	Partitions     int    `json:"partitions"`
	Partition      int32  `json:"partition"`
}

func readJSON(path string, out any) {
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		fmt.Println("cannot read", path, err)
		os.Exit(2)
	}
}

func vectors(dir string) map[string]idVector {
	var index []struct{ Name, Type string }
	readJSON(filepath.Join(dir, "index.json"), &index)
	for _, v := range index {
		raw, _ := os.ReadFile(filepath.Join(dir, v.Name+".binpb"))
		m := newMessage(v.Type)
		if !check(m != nil && proto.Unmarshal(raw, m) == nil, "%s: binary decodes", v.Name) {
			continue
		}
		again, _ := proto.Marshal(m)
		check(bytes.Equal(again, raw), "%s: binary re-encodes identically", v.Name)
		text, _ := os.ReadFile(filepath.Join(dir, v.Name+".json"))
		j := newMessage(v.Type)
		if !check(protojson.Unmarshal(text, j) == nil, "%s: JSON decodes", v.Name) {
			continue
		}
		jb, _ := proto.Marshal(j)
		check(bytes.Equal(jb, raw), "%s: JSON decodes to the binary message", v.Name)
		printed, _ := protojson.Marshal(j)
		var a, b any
		_ = json.Unmarshal(printed, &a)
		_ = json.Unmarshal(text, &b)
		check(reflect.DeepEqual(a, b), "%s: JSON prints the same value", v.Name)
	}
	var ids []idVector
	readJSON(filepath.Join(dir, "payment_ids.json"), &ids)
	byKey := map[string]idVector{}
	for _, v := range ids {
		check(paymentID(v.MerchantID, v.IdempotencyKey) == v.PaymentID, "payment id of %s", v.IdempotencyKey)
		byKey[v.IdempotencyKey] = v
	}
	fmt.Printf("%s: %d vectors, %d payment ids\n", lang, len(index), len(ids))
	return byKey
}

type at struct {
	partition int32
	offset    int64
}

func live(bootstrap, prefix string, payments int, timeout time.Duration, ids map[string]idVector) {
	commands, events, dead := prefix+"payorch.commands", prefix+"payorch.events", prefix+"payorch.deadletter"
	ctx := context.Background()
	// The default partitioner hashes keys with Kafka's murmur2, as Java clients do.
	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequiredAcks(kgo.AllISRAcks()))
	if !check(err == nil, "producer: %v", err) {
		return
	}
	defer producer.Close()
	sent := map[string]at{}
	var pids []string
	for i := 0; i < payments; i++ {
		key := fmt.Sprintf("%s-%d", lang, i)
		pid := paymentID("m_cobranded", key)
		pids = append(pids, pid)
		env := &commandsv1.CommandEnvelope{
			SchemaVersion: 1, CommandId: fmt.Sprintf("%s-cmd-%d", lang, i),
			CorrelationId: fmt.Sprintf("%s-corr-%d", lang, i),
			Command: &commandsv1.CommandEnvelope_Create{Create: &commandsv1.CreatePayment{
				MerchantId: "m_cobranded", IdempotencyKey: key, Confirm: true,
				Amount:      &typesv1.Money{AmountMinor: int64(1000 + i), Currency: "USD"},
				Method:      typesv1.PaymentMethod_PAYMENT_METHOD_CARD,
				CaptureMode: typesv1.CaptureMode_CAPTURE_MODE_AUTOMATIC,
			}},
		}
		value, _ := proto.Marshal(env)
		r := producer.ProduceSync(ctx, &kgo.Record{Topic: commands, Key: []byte(pid), Value: value})
		if check(r.FirstErr() == nil, "produce %s: %v", pid, r.FirstErr()) {
			rec := r[0].Record
			sent[pid] = at{rec.Partition, rec.Offset}
			check(rec.Partition == ids[key].Partition, "%s went to its murmur2 partition", pid)
		}
	}
	garbageKey, garbage := lang+"-garbage", []byte{0x0a, 0x05, 'a', 'b'}
	r := producer.ProduceSync(ctx, &kgo.Record{Topic: commands, Key: []byte(garbageKey), Value: garbage})
	if !check(r.FirstErr() == nil, "produce garbage: %v", r.FirstErr()) {
		return
	}
	sent[garbageKey] = at{r[0].Record.Partition, r[0].Record.Offset}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(events, dead),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if !check(err == nil, "consumer: %v", err) {
		return
	}
	defer consumer.Close()
	final := map[string]bool{}
	types := map[string]bool{}
	rejected, deadOK, counted := false, false, 0
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && !(len(final) == len(pids) && rejected && deadOK) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := consumer.PollFetches(pctx)
		cancel()
		fetches.EachRecord(func(rec *kgo.Record) {
			key := string(rec.Key)
			if rec.Topic == dead {
				if key != garbageKey {
					return
				}
				h := map[string]string{}
				for _, x := range rec.Headers {
					h[x.Key] = string(x.Value)
				}
				g := sent[garbageKey]
				deadOK = check(bytes.Equal(rec.Value, garbage) && h["payorch.reason"] != "" &&
					h["payorch.source.topic"] == commands &&
					h["payorch.source.partition"] == strconv.Itoa(int(g.partition)) &&
					h["payorch.source.offset"] == strconv.FormatInt(g.offset, 10),
					"dead-letter record and headers: %v", h)
				return
			}
			e := &eventsv1.EventEnvelope{}
			if !check(proto.Unmarshal(rec.Value, e) == nil, "event decodes") {
				return
			}
			check(e.Event != nil && e.SchemaVersion == 1, "event has a type: %v", e)
			if e.Event == nil {
				return
			}
			kind := e.ProtoReflect().WhichOneof(e.ProtoReflect().Descriptor().Oneofs().ByName("event")).Name()
			types[string(kind)] = true
			if e.GetWriterClaimed() != nil {
				check(key == "claim", "WriterClaimed key is 'claim'")
				return
			}
			if s, ok := sent[e.PaymentId]; ok {
				counted++
				check(key == e.PaymentId, "event key = payment id")
				check(rec.Partition == s.partition, "event partition = command partition")
				check(e.EventId == fmt.Sprintf("%s/%d", e.PaymentId, e.Sequence), "event id = payment/sequence")
				check(e.Causation.GetTopic() == commands, "causation names the commands topic")
				if e.GetPaymentCompleted() != nil || e.GetPaymentFailed() != nil {
					final[e.PaymentId] = true
				}
			}
			g := sent[garbageKey]
			if e.GetCommandRejected() != nil && e.Causation.GetPartition() == g.partition &&
				e.Causation.GetOffset() == g.offset {
				rejected = true
			}
		})
	}
	check(len(final) == len(pids), "every payment reached a final event (%d/%d)", len(final), len(pids))
	check(rejected, "the undecodable command was rejected")
	check(deadOK, "the undecodable command reached the dead-letter topic")
	fmt.Printf("%s: live %d payments final, %d events, %d types\n", lang, len(final), counted, len(types))
}

func main() {
	dir := flag.String("vectors", "", "test vectors folder (schemas/testdata)")
	bootstrap := flag.String("bootstrap", "", "Kafka bootstrap servers; empty: vectors only")
	prefix := flag.String("prefix", "", "payorch topic prefix")
	payments := flag.Int("payments", 16, "payments to create")
	timeout := flag.Duration("timeout", 90*time.Second, "how long to wait for the events")
	flag.Parse()
	ids := vectors(*dir)
	if *bootstrap != "" {
		live(*bootstrap, *prefix, *payments, *timeout, ids)
	}
	fmt.Printf("%s: %d passed, %d failed\n", lang, passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
