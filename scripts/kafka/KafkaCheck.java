// Readiness check for the local Kafka broker, used by scripts/services.sh.
// Compiled once against the broker's own kafka-clients jar (.cache/kafka/lib).
//
//   java -cp '<lib>/*:<classes>' KafkaCheck <bootstrap> [--transactions]
//
// Always: a real metadata round trip (describeCluster + listTopics).
// With --transactions: creates a scratch topic, commits one record with a
// transactional producer, reads it back with a read_committed consumer group,
// then deletes the topic and the group. This creates and loads
// __transaction_state and __consumer_offsets so that the first test run does
// not hit "coordinator is loading" retries.
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class KafkaCheck {
    static final String TOPIC = "_sillage-services-check";
    static final String GROUP = "_sillage-services-check";
    static final String TXN_ID = "_sillage-services-check";

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: KafkaCheck <bootstrap> [--transactions]");
            System.exit(2);
        }
        String bootstrap = args[0];
        boolean transactions = args.length > 1 && args[1].equals("--transactions");
        long t0 = System.nanoTime();

        Properties common = new Properties();
        common.put("bootstrap.servers", bootstrap);
        common.put("client.id", "sillage-services-check");
        common.put("request.timeout.ms", "10000");
        common.put("default.api.timeout.ms", "20000");

        try (Admin admin = Admin.create(common)) {
            int nodes = admin.describeCluster().nodes().get(20, TimeUnit.SECONDS).size();
            Set<String> topics = admin.listTopics(new ListTopicsOptions().listInternal(true))
                    .names().get(20, TimeUnit.SECONDS);
            System.err.printf("[services] kafka metadata ok: %d node(s), %d topic(s)%n", nodes, topics.size());
            if (!transactions) return;

            String token = UUID.randomUUID().toString();
            try {
                admin.createTopics(List.of(new NewTopic(TOPIC, 1, (short) 1))).all().get(20, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) throw e;
            }

            Properties pp = new Properties();
            pp.putAll(common);
            pp.put("key.serializer", StringSerializer.class.getName());
            pp.put("value.serializer", StringSerializer.class.getName());
            // a fresh transactional id each run: a new id needs a new producer id
            pp.put("transactional.id", TXN_ID + "-" + token);
            pp.put("enable.idempotence", "true");
            pp.put("acks", "all");
            pp.put("max.in.flight.requests.per.connection", "1");
            pp.put("max.block.ms", "30000");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(TOPIC, "aborted", "aborted-" + token)).get(20, TimeUnit.SECONDS);
                producer.abortTransaction();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(TOPIC, "check", token)).get(20, TimeUnit.SECONDS);
                producer.commitTransaction();
            }
            // After a broker start, the first producer-id allocations answer
            // COORDINATOR_LOAD_IN_PROGRESS while the broker fetches a producer-id
            // block from the controller. The Java client retries quietly, but
            // kafkajs logs each retry at ERROR level; a second allocation here
            // absorbs that so the tests' first transactional producer starts clean.
            Properties pp2 = new Properties();
            pp2.putAll(pp);
            pp2.put("transactional.id", TXN_ID + "-" + token + "-2");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp2)) {
                producer.initTransactions();
            }

            Properties cp = new Properties();
            cp.putAll(common);
            cp.put("key.deserializer", StringDeserializer.class.getName());
            cp.put("value.deserializer", StringDeserializer.class.getName());
            cp.put("group.id", GROUP);
            cp.put("isolation.level", "read_committed");
            cp.put("auto.offset.reset", "earliest");
            cp.put("enable.auto.commit", "false");
            boolean found = false;
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
                consumer.subscribe(Collections.singletonList(TOPIC));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
                while (!found && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                        if (r.value().startsWith("aborted-")) {
                            throw new IllegalStateException("read_committed consumer saw an aborted record");
                        }
                        if (r.value().equals(token)) found = true;
                    }
                }
                if (found) consumer.commitSync(Duration.ofSeconds(20));
            }
            if (!found) throw new IllegalStateException("committed transactional record was not consumed within 40s");

            admin.deleteConsumerGroups(List.of(GROUP)).all().get(20, TimeUnit.SECONDS);
            admin.deleteTopics(List.of(TOPIC)).all().get(20, TimeUnit.SECONDS);
            System.err.printf("[services] kafka transactional produce/commit + read_committed consume ok (%d ms)%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        }
    }
}
