package bench.kstreams;

import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/**
 * Gives an output the time it is produced. Kafka Streams would otherwise give it the
 * input record's timestamp, and the bench measures throughput from the output records'
 * CreateTime (the same as quix_filter.py does for Quix Streams).
 */
final class Restamp<K, V> implements FixedKeyProcessor<K, V, V> {
    private FixedKeyProcessorContext<K, V> context;

    @Override
    public void init(FixedKeyProcessorContext<K, V> context) {
        this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<K, V> record) {
        context.forward(record.withTimestamp(System.currentTimeMillis()));
    }
}
