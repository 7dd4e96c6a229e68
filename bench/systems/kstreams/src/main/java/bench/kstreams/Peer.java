package bench.kstreams;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The bench's Kafka Streams peer: one process, one stream thread, run as
 *
 * <pre>
 * java -cp ... bench.kstreams.Peer --bootstrap H:P --guarantee at_least_once|exactly_once_v2
 *     --optouts TOPIC --state-dir DIR --go PATH [--static-membership]
 *     --pass APP_ID INPUT PROVIDER SUPPRESSED [--pass ...]
 * </pre>
 *
 * Each {@code --pass} is the same workload on its own topics, run by its own KafkaStreams
 * instance (own application id) in this JVM, one after the other: the first starts at
 * once (cold: nothing compiled yet); pass n (n >= 2) starts when the file PATH.n exists,
 * after the previous instance is closed (warm: the JIT has compiled the hot code). The
 * last pass runs until SIGTERM. Prints one line per step to stderr ("kstreams-peer: ...").
 */
public final class Peer {
    private static final Object LOCK = new Object();
    private static KafkaStreams current;
    private static boolean stopping;

    private Peer() {
    }

    record Pass(String appId, String input, String provider, String suppressed) {
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = null;
        String guarantee = StreamsConfig.AT_LEAST_ONCE;
        String optouts = null;
        String stateDir = null;
        String go = null;
        boolean staticMembership = false;
        List<Pass> passes = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--bootstrap" -> bootstrap = args[++i];
                case "--guarantee" -> guarantee = args[++i];
                case "--optouts" -> optouts = args[++i];
                case "--state-dir" -> stateDir = args[++i];
                case "--go" -> go = args[++i];
                case "--static-membership" -> staticMembership = true;
                case "--pass" -> {
                    passes.add(new Pass(args[i + 1], args[i + 2], args[i + 3], args[i + 4]));
                    i += 4;
                }
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (bootstrap == null || optouts == null || stateDir == null || passes.isEmpty()
                || (passes.size() > 1 && go == null)) {
            throw new IllegalArgumentException("need --bootstrap, --optouts, --state-dir, --pass (and --go for 2+)");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (LOCK) {
                stopping = true;
                if (current != null) {
                    current.close(Duration.ofSeconds(20));
                    log("closed on SIGTERM");
                }
            }
            stopped.countDown();
        }, "peer-shutdown"));
        log("Java " + Runtime.version() + ", guarantee " + guarantee + (staticMembership ? ", static membership" : "")
                + ", " + passes.size() + " pass(es)");
        for (int n = 1; n <= passes.size(); n++) {
            if (n > 1) {
                Path file = Path.of(go + "." + n);
                while (!Files.exists(file)) {
                    if (stopped.await(20, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        return;
                    }
                }
                synchronized (LOCK) {
                    if (stopping) {
                        return;
                    }
                    current.close(Duration.ofSeconds(60));
                    current = null;
                    log("pass " + (n - 1) + " closed");
                }
            }
            Pass pass = passes.get(n - 1);
            Properties props = config(pass.appId(), bootstrap, guarantee, stateDir, staticMembership);
            KafkaStreams streams = new KafkaStreams(
                    OptOutTopology.build(pass.input(), pass.provider(), pass.suppressed(), optouts), props);
            final int number = n;
            streams.setStateListener((now, before) -> {
                log("pass " + number + " " + before + " -> " + now);
                if (now == KafkaStreams.State.ERROR) {
                    new Thread(() -> System.exit(3), "peer-exit").start();
                }
            });
            synchronized (LOCK) {
                if (stopping) {
                    return;
                }
                current = streams;
                streams.start();
            }
            log("pass " + n + " started: " + pass.appId() + " reads " + pass.input());
        }
        stopped.await();
    }

    static Properties config(String appId, String bootstrap, String guarantee, String stateDir, boolean staticMember) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // the producer settings of the project and the baselines (Kafka Streams' own
        // default linger is 100 ms); everything else is Kafka Streams' default (commit
        // every 30 s at-least-once, 100 ms exactly-once; RocksDB store; 10 MB record cache)
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 1);
        if (staticMember) {
            p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), appId + "-peer");
        }
        return p;
    }

    static void log(String msg) {
        System.err.println("kstreams-peer: " + System.currentTimeMillis() + " " + msg);
    }
}
