// payorch interop client in Java: the Apache Kafka client + protobuf-java (protoc --java_out).
//
//   java -cp ... Interop --vectors schemas/testdata [--bootstrap B --prefix P --payments N]
//
// The same checks as tests/interop/python/interop.py (see tests/interop/README.md), plus
// the vectors' murmur2 partitions against Kafka's own Utils.murmur2.
// Prints "java: N passed, M failed" last; exit 1 on any failure.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import payments.commands.v1.Commands;
import payments.contracts.v1.Contracts;
import payments.events.v1.Events;
import payments.invoices.v1.Invoices;
import payments.orders.v1.Orders;
import payments.types.v1.Types;

public final class Interop {
  static final String LANG = "java";
  static int passed = 0;
  static int failed = 0;

  static boolean check(boolean ok, String what) {
    if (ok) {
      passed++;
    } else {
      failed++;
      System.out.println("FAIL: " + what);
    }
    return ok;
  }

  static Supplier<Message.Builder> builder(String type) {
    switch (type) {
      case "payments.commands.v1.CommandEnvelope": return Commands.CommandEnvelope::newBuilder;
      case "payments.events.v1.EventEnvelope": return Events.EventEnvelope::newBuilder;
      case "payments.contracts.v1.ContractViolation": return Contracts.ContractViolation::newBuilder;
      case "payments.invoices.v1.InvoiceCommandEnvelope": return Invoices.InvoiceCommandEnvelope::newBuilder;
      case "payments.invoices.v1.InvoiceEventEnvelope": return Invoices.InvoiceEventEnvelope::newBuilder;
      case "payments.orders.v1.OrderCommandEnvelope": return Orders.OrderCommandEnvelope::newBuilder;
      case "payments.orders.v1.OrderEventEnvelope": return Orders.OrderEventEnvelope::newBuilder;
      default: throw new IllegalArgumentException("unknown type " + type);
    }
  }

  static long mix(long h) {
    h ^= h >>> 30;
    h *= 0xbf58476d1ce4e5b9L;
    h ^= h >>> 27;
    h *= 0x94d049bb133111ebL;
    return h ^ (h >>> 31);
  }

  // src/command/hash.h DerivePaymentId.
  static String paymentId(String merchant, String key) {
    final long p1 = 0x100000001b3L;
    final long p2 = (0x00000100000001b3L ^ 0x9e3779b97f4a7c15L) | 1L;
    long h1 = 0xcbf29ce484222325L;
    long h2 = 0x84222325cbf29ce4L;
    for (String f : new String[] {"payment", merchant, key}) {
      byte[] b = f.getBytes(StandardCharsets.UTF_8);
      for (byte c : b) {
        h1 = (h1 ^ (c & 0xff)) * p1;
        h2 = (h2 ^ (c & 0xff)) * p2;
      }
      h1 = (h1 ^ (b.length + 0x1f)) * p1;
      h2 = (h2 ^ (b.length + 0x2f)) * p2;
    }
    return String.format("pay_%016x%016x", mix(h1), mix(h2 ^ h1));
  }

  static Map<String, JsonNode> vectors(Path dir) throws Exception {
    ObjectMapper json = new ObjectMapper();
    JsonNode index = json.readTree(dir.resolve("index.json").toFile());
    for (JsonNode v : index) {
      String name = v.get("name").asText();
      Supplier<Message.Builder> b = builder(v.get("type").asText());
      byte[] raw = Files.readAllBytes(dir.resolve(name + ".binpb"));
      Message m = b.get().mergeFrom(raw).build();
      check(Arrays.equals(m.toByteArray(), raw), name + ": binary re-encodes identically");
      String text = Files.readString(dir.resolve(name + ".json"));
      Message.Builder jb = b.get();
      JsonFormat.parser().merge(text, jb);
      check(Arrays.equals(jb.build().toByteArray(), raw), name + ": JSON decodes to the binary message");
      check(json.readTree(JsonFormat.printer().print(jb)).equals(json.readTree(text)),
          name + ": JSON prints the same value");
    }
    JsonNode ids = json.readTree(dir.resolve("payment_ids.json").toFile());
    Map<String, JsonNode> byKey = new HashMap<>();
    for (JsonNode v : ids) {
      String pid = v.get("paymentId").asText();
      check(paymentId(v.get("merchantId").asText(), v.get("idempotencyKey").asText()).equals(pid),
          "payment id of " + v.get("idempotencyKey").asText());
      int expected = Utils.toPositive(Utils.murmur2(pid.getBytes(StandardCharsets.UTF_8)))
          % v.get("partitions").asInt();
      check(expected == v.get("partition").asInt(), "murmur2 partition of " + pid);
      byKey.put(v.get("idempotencyKey").asText(), v);
    }
    System.out.printf("%s: %d vectors, %d payment ids%n", LANG, index.size(), ids.size());
    return byKey;
  }

  static void live(String bootstrap, String prefix, int payments, int timeoutS,
      Map<String, JsonNode> ids) throws Exception {
    String commands = prefix + "payorch.commands";
    String events = prefix + "payorch.events";
    String dead = prefix + "payorch.deadletter";
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    Map<String, long[]> sent = new HashMap<>();
    List<String> pids = new ArrayList<>();
    String garbageKey = LANG + "-garbage";
    byte[] garbage = {0x0a, 0x05, 'a', 'b'};
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(pp, new StringSerializer(), new ByteArraySerializer())) {
      for (int i = 0; i < payments; i++) {
        String key = LANG + "-" + i;
        String pid = paymentId("m_cobranded", key);
        pids.add(pid);
        Commands.CommandEnvelope env = Commands.CommandEnvelope.newBuilder()
            .setSchemaVersion(1).setCommandId(LANG + "-cmd-" + i).setCorrelationId(LANG + "-corr-" + i)
            .setCreate(Commands.CreatePayment.newBuilder()
                .setMerchantId("m_cobranded").setIdempotencyKey(key).setConfirm(true)
                .setAmount(Types.Money.newBuilder().setAmountMinor(1000 + i).setCurrency("USD"))
                .setMethod(Types.PaymentMethod.PAYMENT_METHOD_CARD)
                .setCaptureMode(Types.CaptureMode.CAPTURE_MODE_AUTOMATIC))
            .build();
        // The default partitioner: murmur2 of the key.
        RecordMetadata md = producer.send(new ProducerRecord<>(commands, pid, env.toByteArray())).get();
        sent.put(pid, new long[] {md.partition(), md.offset()});
        check(md.partition() == ids.get(key).get("partition").asInt(), pid + " went to its murmur2 partition");
      }
      RecordMetadata md = producer.send(new ProducerRecord<>(commands, garbageKey, garbage)).get();
      sent.put(garbageKey, new long[] {md.partition(), md.offset()});
    }
    long[] g = sent.get(garbageKey);

    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    Set<String> fin = new HashSet<>();
    Set<String> kinds = new TreeSet<>();
    boolean rejected = false;
    boolean deadOk = false;
    int counted = 0;
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(cp, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> parts = new ArrayList<>();
      for (String t : List.of(events, dead)) {
        for (PartitionInfo p : consumer.partitionsFor(t)) parts.add(new TopicPartition(t, p.partition()));
      }
      consumer.assign(parts);
      consumer.seekToBeginning(parts);
      long deadline = System.currentTimeMillis() + timeoutS * 1000L;
      while (System.currentTimeMillis() < deadline && !(fin.size() == pids.size() && rejected && deadOk)) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          String key = r.key() == null ? "" : r.key();
          if (r.topic().equals(dead)) {
            if (!key.equals(garbageKey)) continue;
            Map<String, String> h = new HashMap<>();
            for (Header x : r.headers()) h.put(x.key(), x.value() == null ? "" : new String(x.value(), StandardCharsets.UTF_8));
            deadOk = check(Arrays.equals(r.value(), garbage) && !h.getOrDefault("payorch.reason", "").isEmpty()
                && commands.equals(h.get("payorch.source.topic"))
                && String.valueOf(g[0]).equals(h.get("payorch.source.partition"))
                && String.valueOf(g[1]).equals(h.get("payorch.source.offset")),
                "dead-letter record and headers: " + h);
            continue;
          }
          Events.EventEnvelope e;
          try {
            e = Events.EventEnvelope.parseFrom(r.value());
          } catch (Exception ex) {
            check(false, "event decodes: " + ex);
            continue;
          }
          Events.EventEnvelope.EventCase kind = e.getEventCase();
          check(kind != Events.EventEnvelope.EventCase.EVENT_NOT_SET && e.getSchemaVersion() == 1, "event has a type");
          kinds.add(kind.name());
          if (e.hasWriterClaimed()) {
            check(key.equals("claim"), "WriterClaimed key is 'claim'");
            continue;
          }
          long[] s = sent.get(e.getPaymentId());
          if (s != null) {
            counted++;
            check(key.equals(e.getPaymentId()), "event key = payment id");
            check(r.partition() == s[0], "event partition = command partition");
            check(e.getEventId().equals(e.getPaymentId() + "/" + e.getSequence()), "event id = payment/sequence");
            check(e.getCausation().getTopic().equals(commands), "causation names the commands topic");
            if (e.hasPaymentCompleted() || e.hasPaymentFailed()) fin.add(e.getPaymentId());
          }
          if (e.hasCommandRejected() && e.getCausation().getPartition() == g[0]
              && e.getCausation().getOffset() == g[1]) {
            rejected = true;
          }
        }
      }
    }
    check(fin.size() == pids.size(), "every payment reached a final event (" + fin.size() + "/" + pids.size() + ")");
    check(rejected, "the undecodable command was rejected");
    check(deadOk, "the undecodable command reached the dead-letter topic");
    System.out.printf("%s: live %d payments final, %d events, types %s%n", LANG, fin.size(), counted, kinds);
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new HashMap<>(Map.of("prefix", "", "payments", "16", "timeout", "90"));
    for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    Map<String, JsonNode> ids = vectors(Path.of(a.get("vectors")));
    if (a.containsKey("bootstrap")) {
      live(a.get("bootstrap"), a.get("prefix"), Integer.parseInt(a.get("payments")),
          Integer.parseInt(a.get("timeout")), ids);
    }
    System.out.printf("%s: %d passed, %d failed%n", LANG, passed, failed);
    System.exit(failed > 0 ? 1 : 0);
  }
}
