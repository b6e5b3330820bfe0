package io.faultline.bench;

import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.content.CallContent;
import io.faultline.content.ContentConfig;
import io.faultline.content.PiiConfig;
import io.faultline.content.PiiRules;
import io.faultline.content.PiiScanner;
import io.faultline.taxonomy.Failure;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.HostileSubjects;
import io.faultline.testing.HostileText;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the time of the PII rule goes on its worst case, 64 KiB of digits with separators in every field: the rule
 * as the worst-case bench runs it, next to its parts (one scan of the answer, one of the request) and to the rule on
 * calls whose request and answer differ, so that the rule's cost can be compared with the scans it makes. Median of
 * {@code bench.pii.runs} (15) after {@code bench.pii.warmup} (30) calls each, as {@link HostileInputBench}; it
 * measures, it does not judge speed. Writes {@code target/bench-pii-rule.md}.
 */
class PiiRuleBench {

    private static final int RUNS = Integer.getInteger("bench.pii.runs", 15);
    private static final int WARMUP = Integer.getInteger("bench.pii.warmup", 30);
    /** Thread CPU time next to wall time: on a shared machine the wall figure also counts time the thread waited. */
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Test
    void the_pii_rule_against_the_scans_it_makes() throws Exception {
        ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
        PiiConfig config = ConfigMappings.defaults(PiiConfig.class);
        CallMapper mapper = new CallMapper(Payloads.JSON, content);
        PiiRules rule = new PiiRules(content, config);
        PiiScanner scanner = new PiiScanner(config);

        String hostile = HostileText.digitsWithSeparators(64 * 1024);
        // The same shape with other digits: no answer finding is written as-is in the request.
        String other = hostile.replace('4', '5').replace('1', '3');
        String normal = PiiPhoneBench.normalAnswer();

        LlmCall everywhere = mapper.map(HostileSubjects.payload(HostileSubjects.Texts.everywhere(hostile)));
        LlmCall differing = mapper.map(HostileSubjects.payload(new HostileSubjects.Texts(other, hostile, "", "")));
        LlmCall hostileAnswerOnly = mapper.map(HostileSubjects.payload(
                new HostileSubjects.Texts("What is the number?", hostile, "", "")));
        LlmCall hostileRequestOnly = mapper.map(HostileSubjects.payload(
                new HostileSubjects.Texts(hostile, normal, "", "")));
        // The answer holds one produced e-mail (so the request is scanned too) after 64 KiB of digits, the request
        // other digits: the rule's most expensive shape, two full scans.
        LlmCall twoScans = mapper.map(HostileSubjects.payload(new HostileSubjects.Texts(other,
                "Write to jane.doe@example.com. " + hostile, "", "")));
        // A produced phone number in the answer: the request's phone numbers are validated too.
        LlmCall twoFullScans = mapper.map(HostileSubjects.payload(new HostileSubjects.Texts(other,
                "Call +41 61 266 55 00, then " + hostile, "", "")));
        LlmCall normalCall = mapper.map(HostileSubjects.payload(
                new HostileSubjects.Texts("Tell me about the Rhine.", normal, "", "")));
        CallContent c = everywhere.content();

        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "PII rule on 64 KiB of digits with separators (median of %d after %d warm-up calls each; %d cores):%n%n"
                        + "| case | ms per call (wall) | ms per call (thread CPU) | failures |%n|---|---|---|---|%n",
                RUNS, WARMUP, Runtime.getRuntime().availableProcessors()));
        Map<String, Supplier<Integer>> cases = new LinkedHashMap<>();
        cases.put("scan of the answer alone (`inspect`)", () -> scanner.inspect(c.answer()).findings().size());
        cases.put("scan of the request alone (`requestText` + `scan`)", () -> scanner.scan(c.requestText()).size());
        cases.put("rule, the same text in request and answer", () -> findings(rule.apply(everywhere)));
        cases.put("rule, other digits in the request", () -> findings(rule.apply(differing)));
        cases.put("rule, hostile answer, short question", () -> findings(rule.apply(hostileAnswerOnly)));
        cases.put("rule, hostile request, normal answer with 2 phones", () -> findings(rule.apply(hostileRequestOnly)));
        cases.put("rule, e-mail + digits answer, other digits in the request",
                () -> findings(rule.apply(twoScans)));
        cases.put("rule, phone + digits answer, other digits in the request (two full scans)",
                () -> findings(rule.apply(twoFullScans)));
        cases.put("rule, normal answer with 2 phones", () -> findings(rule.apply(normalCall)));
        // Every case once per round first, so that the first case measured does not pay for the JIT's work alone.
        for (int i = 0; i < WARMUP; i++) {
            cases.values().forEach(Supplier::get);
        }
        cases.forEach((name, work) -> row(out, name, work));
        System.out.println(out);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "bench-pii-rule.md"), out.toString());
        assertThat(rule.apply(normalCall)).hasSize(1);
    }

    private static int findings(List<Failure> failures) {
        return failures.isEmpty() ? 0 : 1;
    }

    private static void row(StringBuilder out, String name, Supplier<Integer> work) {
        for (int i = 0; i < WARMUP; i++) {
            work.get();
        }
        long[] runs = new long[RUNS];
        long[] cpu = new long[RUNS];
        int result = 0;
        for (int i = 0; i < RUNS; i++) {
            long startCpu = THREADS.getCurrentThreadCpuTime();
            long start = System.nanoTime();
            result = work.get();
            runs[i] = System.nanoTime() - start;
            cpu[i] = THREADS.getCurrentThreadCpuTime() - startCpu;
        }
        Arrays.sort(runs);
        Arrays.sort(cpu);
        out.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %d |%n", name, runs[RUNS / 2] / 1e6,
                cpu[RUNS / 2] / 1e6, result));
    }
}
