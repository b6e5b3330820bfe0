package io.faultline.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.call.CallMapper;
import io.faultline.call.CallStore;
import io.faultline.call.LlmCall;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code make bench}: what the resend lookup (one primary-key query per batch before classification) costs next to
 * the insert of the same batch, interleaved in one process so that both see the same load of the shared machine.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
class IngestBenchResendLookup {

    private static final int BATCH = 100;
    private static final int BATCHES = Integer.getInteger("bench.batches", 400);

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CallMapper mapper;

    @Inject
    CallStore store;

    @Test
    void resend_lookup_against_the_insert_of_the_same_batch() throws Exception {
        Instant base = Instant.now();
        List<List<LlmCall>> batches = new ArrayList<>();
        for (int b = 0; b < BATCHES; b++) {
            Payloads[] items = new Payloads[BATCH];
            for (int i = 0; i < BATCH; i++) {
                items[i] = Payloads.success("openai", "gpt-4o-mini", "bench-dep", base.plusMillis(b * BATCH + i));
            }
            List<LlmCall> calls = new ArrayList<>();
            ((ArrayNode) Payloads.JSON.readTree(Payloads.array(items))).forEach(n -> calls.add(mapper.map(n)));
            batches.add(calls);
        }
        long[] lookupNanos = new long[BATCHES];
        long[] insertNanos = new long[BATCHES];
        long[] resendLookupNanos = new long[BATCHES];
        int found = 0;
        for (int b = 0; b < BATCHES; b++) {
            List<LlmCall> calls = batches.get(b);
            long t0 = System.nanoTime();
            try (Connection c = dataSource.getConnection()) {
                assertThat(store.alreadyStored(c, calls)).isEmpty();
            }
            long t1 = System.nanoTime();
            QuarkusTransaction.requiringNew().call(() -> {
                try (Connection c = dataSource.getConnection()) {
                    return store.insert(c, calls, Instant.now());
                }
            });
            long t2 = System.nanoTime();
            try (Connection c = dataSource.getConnection()) {
                found += store.alreadyStored(c, calls).size();
            }
            long t3 = System.nanoTime();
            lookupNanos[b] = t1 - t0;
            insertNanos[b] = t2 - t1;
            resendLookupNanos[b] = t3 - t2;
        }
        assertThat(found).isEqualTo(BATCHES * BATCH);
        // The first quarter warms up the JIT and the connection pool.
        int from = BATCHES / 4;
        double lookup = median(lookupNanos, from);
        double resend = median(resendLookupNanos, from);
        double insert = median(insertNanos, from);
        String text = String.format(Locale.ROOT, """
                Resend lookup (%d batches x %d calls, medians of the last %d, same process and PostgreSQL):
                | step per batch | ms |
                |---|---|
                | lookup, nothing stored yet (new calls) | %.2f |
                | lookup, all stored (a resend) | %.2f |
                | insert of the same batch (CallStore, own transaction) | %.2f |
                Lookup / insert: %.2f
                """, BATCHES, BATCH, BATCHES - from, lookup / 1e6, resend / 1e6, insert / 1e6, lookup / insert);
        System.out.println(text);
        Files.writeString(Path.of("target", "bench-resend-lookup.md"), text);
    }

    private static double median(long[] values, int from) {
        long[] tail = Arrays.copyOfRange(values, from, values.length);
        Arrays.sort(tail);
        return tail[tail.length / 2];
    }
}
