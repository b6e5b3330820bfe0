package io.faultline.bench;

import io.faultline.content.PiiConfig;
import io.faultline.content.PiiScanner;
import io.faultline.content.PiiScanner.Finding;
import io.faultline.content.PiiScanner.Kind;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.HostileText;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cost of one {@link PiiScanner#inspect} call where phone validation dominates: 64 KiB of digits with separators
 * (the scanner reads the first 16 KiB) against a normal 2 KB answer holding two phone numbers. Prints the median
 * microseconds per call; it measures, it does not judge speed ({@code HostileInputTest} judges with its ceiling).
 * Run with {@code -Dtest=PiiPhoneBench} or {@code make bench}; it prints its figures and takes a few seconds.
 */
class PiiPhoneBench {

    private static final int RUNS = Integer.getInteger("bench.pii.runs", 41);
    private static final int WARMUP = Integer.getInteger("bench.pii.warmup", 20);

    /** About 2 KB of prose with a national number announced by a cue word and a bare international one. */
    static String normalAnswer() {
        String prose = "The Rhine is about 1,230 kilometres long. It rises in the Swiss Alps and flows to the "
                + "North Sea near Rotterdam, passing Basel, Strasbourg, Cologne and Düsseldorf on the way. ";
        return prose.repeat(5) + "For the school trip call the office on (415) 555-2671 before Friday. "
                + prose.repeat(5) + "The museum in Basel answers on +41 61 266 55 00 every weekday. " + prose;
    }

    @Test
    void phone_validation_cost_per_call_on_hostile_and_normal_text() {
        PiiScanner scanner = new PiiScanner(ConfigMappings.defaults(PiiConfig.class));
        String hostile = HostileText.digitsWithSeparators(64 * 1024);
        String normal = normalAnswer();

        double hostileMicros = median(scanner, hostile);
        double normalMicros = median(scanner, normal);
        PiiScanner.Scan hostileScan = scanner.inspect(hostile);
        PiiScanner.Scan normalScan = scanner.inspect(normal);
        System.out.printf(Locale.ROOT, "PiiScanner.inspect, median of %d after %d warm-up calls:%n"
                        + "  64 KiB digits with separators: %.0f µs (%d findings, exhausted=%s)%n"
                        + "  normal %d-char answer with 2 phones: %.0f µs (%s)%n",
                RUNS, WARMUP, hostileMicros, hostileScan.findings().size(), hostileScan.exhausted(),
                normal.length(), normalMicros, normalScan.findings());

        assertThat(normalScan.findings()).extracting(Finding::kind).containsExactly(Kind.PHONE, Kind.PHONE);
        assertThat(hostileMicros).isPositive();
    }

    private static double median(PiiScanner scanner, String text) {
        for (int i = 0; i < WARMUP; i++) {
            scanner.inspect(text);
        }
        long[] runs = new long[RUNS];
        for (int i = 0; i < RUNS; i++) {
            long start = System.nanoTime();
            scanner.inspect(text);
            runs[i] = System.nanoTime() - start;
        }
        Arrays.sort(runs);
        return runs[RUNS / 2] / 1e3;
    }
}
