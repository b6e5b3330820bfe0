package io.faultline.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.testing.HostileSubjects;
import io.faultline.testing.HostileText;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code make bench}: the worst case of each detector and of the mapper. Every hostile text of {@link HostileText}
 * at 16, 32 and 64 KiB goes through the detector in the field it reads, next to a normal 2 KB call; the table in
 * {@code target/bench-hostile.md} shows the median time of one call and how it grows from 16 to 64 KiB (linear code
 * grows about 4×, quadratic code 16×). The figures are those of a running service, whose detectors the JIT has
 * compiled: each case is timed after {@code bench.hostile.warmup} (30) calls of its own (a case slower than the cap
 * on its first call is not repeated). Not part of {@code make test}: it measures, it does not judge speed (the
 * hostile-input tests, with a ceiling of 2 s, judge).
 */
class HostileInputBench {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final int[] SIZES = Arrays.stream(System.getProperty("bench.hostile.sizes", "16384,32768,65536")
            .split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
    private static final int RUNS = Integer.getInteger("bench.hostile.runs", 15);
    private static final int WARMUP = Integer.getInteger("bench.hostile.warmup", 30);
    /** A case slower than this once is not run at larger sizes: quadratic code would take minutes there. */
    private static final long GIVE_UP_NANOS = Long.getLong("bench.hostile.giveUpMillis", 2000) * 1_000_000;

    @Test
    void worst_case_time_of_each_detector_and_the_mapper() throws Exception {
        List<HostileSubjects.Subject> subjects = HostileSubjects.all();
        StringBuilder table = new StringBuilder();
        table.append("| detector | input | normal 2 KB call |");
        for (int size : SIZES) {
            table.append(' ').append(label(size)).append(" |");
        }
        table.append(" growth ").append(label(SIZES[0])).append(" → ").append(label(SIZES[SIZES.length - 1]))
                .append(" | ").append(label(SIZES[SIZES.length - 1])).append(", thread CPU |\n|---|---|---|");
        table.append("---|".repeat(SIZES.length + 2)).append('\n');
        double worst = 0;
        String worstCase = "";
        for (HostileSubjects.Subject subject : subjects) {
            double normal = median(subject, HostileSubjects.normalCall())[0];
            Map<String, double[]> rows = new LinkedHashMap<>();
            Map<String, Double> cpu = new LinkedHashMap<>();
            for (String name : HostileText.all(SIZES[0]).keySet()) {
                rows.put(name, new double[SIZES.length]);
            }
            for (int s = 0; s < SIZES.length; s++) {
                for (Map.Entry<String, String> input : HostileText.all(SIZES[s]).entrySet()) {
                    double[] row = rows.get(input.getKey());
                    if (s > 0 && Double.isNaN(row[s - 1])) {
                        row[s] = Double.NaN;
                        continue;
                    }
                    double[] wallAndCpu = median(subject, HostileSubjects.Texts.everywhere(input.getValue()));
                    row[s] = wallAndCpu[0];
                    cpu.put(input.getKey(), wallAndCpu[1]);
                    if (s == SIZES.length - 1 && row[s] > worst) {
                        worst = row[s];
                        worstCase = subject.name() + " / " + input.getKey();
                    }
                }
            }
            for (Map.Entry<String, double[]> row : rows.entrySet()) {
                table.append("| ").append(subject.name()).append(" | ").append(row.getKey()).append(" | ")
                        .append(ms(normal)).append(" |");
                for (double value : row.getValue()) {
                    table.append(' ').append(ms(value)).append(" |");
                }
                double[] v = row.getValue();
                table.append(' ').append(Double.isNaN(v[v.length - 1]) ? "—"
                        : String.format(Locale.ROOT, "%.1f×", v[v.length - 1] / Math.max(v[0], 1e-6))).append(" | ")
                        .append(Double.isNaN(v[v.length - 1]) ? "—" : ms(cpu.get(row.getKey()))).append(" |\n");
            }
        }
        String text = String.format(Locale.ROOT, """
                Worst-case inputs (median of %d calls after %d warm-up calls, milliseconds per call, wall time and, at
                the largest size, the thread's CPU time; %d cores, %s):
                %s
                Slowest hostile input at %s: %s, %s ms. A dash: not run, the smaller size already took over %d ms.
                """, RUNS, WARMUP, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
                table, label(SIZES[SIZES.length - 1]), worstCase, ms(worst), GIVE_UP_NANOS / 1_000_000);
        System.out.println(text);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "bench-hostile.md"), text);
        assertThat(worstCase).isNotEmpty();
    }

    /**
     * Median milliseconds of one call of the subject on these texts, wall time and the calling thread's CPU time
     * (on a shared machine the wall figure also counts the time the thread waited for a core); NaN when one call
     * took longer than the cap.
     */
    private static double[] median(HostileSubjects.Subject subject, HostileSubjects.Texts texts) {
        HostileSubjects.Prepared prepared = subject.prepare(texts);
        long first = time(prepared);
        if (first > GIVE_UP_NANOS) {
            System.out.printf(Locale.ROOT, "%s: one call took %.0f ms, larger sizes skipped%n", subject.name(),
                    first / 1e6);
            return new double[] {Double.NaN, Double.NaN};
        }
        for (int i = 1; i < WARMUP; i++) {
            time(prepared);
        }
        long[] runs = new long[RUNS];
        long[] cpu = new long[RUNS];
        for (int i = 0; i < RUNS; i++) {
            long startCpu = THREADS.getCurrentThreadCpuTime();
            runs[i] = time(prepared);
            cpu[i] = THREADS.getCurrentThreadCpuTime() - startCpu;
        }
        Arrays.sort(runs);
        Arrays.sort(cpu);
        return new double[] {runs[RUNS / 2] / 1e6, cpu[RUNS / 2] / 1e6};
    }

    private static long time(HostileSubjects.Prepared prepared) {
        long start = System.nanoTime();
        prepared.run();
        return System.nanoTime() - start;
    }

    private static String label(int bytes) {
        return bytes % 1024 == 0 ? bytes / 1024 + " KiB" : bytes + " B";
    }

    private static String ms(double millis) {
        if (Double.isNaN(millis)) {
            return "—";
        }
        return millis < 0.1 ? String.format(Locale.ROOT, "%.3f", millis)
                : millis < 10 ? String.format(Locale.ROOT, "%.2f", millis) : String.format(Locale.ROOT, "%.0f", millis);
    }

    static JsonNode node(Object value) {
        return JSON.valueToTree(value);
    }

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    static List<String> list(String... values) {
        return new ArrayList<>(List.of(values));
    }
}
