package bench.kstreams;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * A decided send: the bytes for the provider topic (the request as it came) or for the
 * suppressed topic ({@code {"reason", "suppressed_at", "message": <the request>}}, the
 * shape the project and the baselines write; bench/verify.py reads reason and message).
 */
record Routed(boolean suppressed, byte[] value) {

    static Routed deliver(byte[] send) {
        return new Routed(false, send);
    }

    static Routed suppress(String reason, byte[] send) {
        return new Routed(true, suppressedRecord(reason, send));
    }

    static byte[] suppressedRecord(String reason, byte[] send) {
        byte[] head = ("{\"reason\":\"" + reason + "\",\"suppressed_at\":\"" + Instant.now() + "\",\"message\":")
                .getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[head.length + send.length + 1];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(send, 0, out, head.length, send.length);
        out[out.length - 1] = '}';
        return out;
    }
}
