package bench.kstreams;

import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The opt-out filter as a Kafka Streams topology, the same job as the project's worker:
 *
 * <pre>
 * input (send requests, JSON) -> key "&lt;E.164&gt;|&lt;account&gt;" (libphonenumber, region US)
 *   -> repartition topic &lt;app id&gt;-by-number-repartition
 *   -> left join with the opt-out KTable (RocksDB store "optouts", read from the opt-outs
 *      topic: key "&lt;E.164&gt;|&lt;account&gt;", any non-null value = opted out)
 *   -> provider topic (the request's bytes as they came) or suppressed topic
 * </pre>
 *
 * The table and the repartition topic are co-partitioned (murmur2 of the key, as the
 * bench writes the opt-outs topic). Kafka Streams picks the next record of a task by
 * timestamp, and the opt-outs are produced before the sends, so every opt-out is in the
 * table before a send to its number is looked up.
 */
final class OptOutTopology {
    static final String STORE = "optouts";
    static final String REPARTITION = "by-number";

    private OptOutTopology() {
    }

    static Topology build(String input, String provider, String suppressed, String optouts) {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, String> table = builder.table(optouts, Consumed.with(Serdes.String(), Serdes.String()),
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as(STORE)
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()));
        Produced<String, byte[]> out = Produced.with(Serdes.String(), Serdes.ByteArray());

        Map<String, KStream<String, byte[]>> keyed = builder
                .stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .selectKey((key, send) -> Recipient.key(send), Named.as("normalise"))
                .split(Named.as("recipient-"))
                .branch((key, send) -> key.startsWith(Recipient.REJECTED), Branched.as("rejected"))
                .defaultBranch(Branched.as("valid"));

        // decided without a lookup, like the project's router: no phone, invalid number
        keyed.get("recipient-rejected")
                .mapValues((key, send) -> Routed.suppressedRecord(key.substring(1), send))
                .processValues(() -> new Restamp<String, byte[]>())
                .to(suppressed, out);

        Map<String, KStream<String, Routed>> decided = keyed.get("recipient-valid")
                .repartition(Repartitioned.<String, byte[]>as(REPARTITION)
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()))
                .leftJoin(table,
                        (send, optout) -> optout == null ? Routed.deliver(send) : Routed.suppress("opted_out", send),
                        Joined.with(Serdes.String(), Serdes.ByteArray(), Serdes.String()))
                .processValues(() -> new Restamp<String, Routed>())
                .split(Named.as("decision-"))
                .branch((key, routed) -> routed.suppressed(), Branched.as("suppressed"))
                .defaultBranch(Branched.as("provider"));
        decided.get("decision-suppressed").mapValues(routed -> routed.value()).to(suppressed, out);
        decided.get("decision-provider").mapValues(routed -> routed.value()).to(provider, out);
        return builder.build();
    }
}
