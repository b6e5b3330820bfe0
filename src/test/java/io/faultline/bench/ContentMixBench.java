package io.faultline.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.classify.ClassifyConfig;
import io.faultline.classify.SeverityPolicy;
import io.faultline.content.ContentConfig;
import io.faultline.content.ContentRule;
import io.faultline.content.FaithfulnessConfig;
import io.faultline.content.FaithfulnessRules;
import io.faultline.content.FormatConfig;
import io.faultline.content.FormatRules;
import io.faultline.content.InjectionConfig;
import io.faultline.content.InjectionRules;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageRules;
import io.faultline.content.PiiConfig;
import io.faultline.content.PiiRules;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code make bench}: what each content detector costs per call on {@link IngestBench}'s own content mix (a system
 * prompt, a question and an answer; one call in five grounded, one in ten asking for JSON, one in twenty-five with an
 * e-mail address, one in fifty an injection attempt), beside the mapping of the payload into the call. Each piece is
 * timed over the 50-call cycle as the median of 9 interleaved rounds after a warm-up, in µs per call; its share says
 * where {@link IngestBench}'s content-on throughput goes. Writes {@code target/bench-content-mix.md}; not part of
 * {@code make test}.
 */
class ContentMixBench {

    private static final int CYCLES = Integer.getInteger("bench.content-mix.cycles", 200);
    
    @Test
    void content_detectors_per_call_on_the_ingest_mix() throws Exception {
        ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
        CallMapper mapper = new CallMapper(Payloads.JSON, content);
        SeverityPolicy severities = new SeverityPolicy(ConfigMappings.withDurations(ClassifyConfig.class));
        Map<String, ContentRule> rules = new LinkedHashMap<>();
        rules.put("injection", new InjectionRules(content, ConfigMappings.defaults(InjectionConfig.class),
                severities));
        rules.put("pii", new PiiRules(content, ConfigMappings.defaults(PiiConfig.class)));
        rules.put("format", new FormatRules(content, ConfigMappings.defaults(FormatConfig.class)));
        rules.put("language", new LanguageRules(content, ConfigMappings.defaults(LanguageConfig.class)));
        rules.put("faithfulness", new FaithfulnessRules(content, ConfigMappings.defaults(FaithfulnessConfig.class),
                severities));

        Instant at = Instant.parse("2026-12-04T12:00:00Z");
        List<ObjectNode> payloads = new ArrayList<>();
        List<LlmCall> calls = new ArrayList<>();
        for (int n = 1; n <= 50; n++) {
            Payloads p = IngestBench.content(Payloads.success("openai", "openai-model", "openai-dep-0", at), n);
            p.user("user-" + n).set("litellm_call_id", "mix-" + n);
            payloads.add(p.node());
            calls.add(mapper.map(p.node()));
        }
        int flagged = 0;
        Map<String, Integer> byType = new java.util.TreeMap<>();
        for (LlmCall call : calls) {
            for (ContentRule rule : rules.values()) {
                for (io.faultline.taxonomy.Failure failure : rule.apply(call)) {
                    flagged++;
                    byType.merge(failure.type().code(), 1, Integer::sum);
                    if (System.getProperty("bench.content-mix.evidence") != null) {
                        System.out.println(failure.type().code() + " " + failure.evidence());
                    }
                }
            }
        }

        Map<String, Supplier<Object>> works = new LinkedHashMap<>();
        works.put("mapping (JsonNode -> call, content extraction included)", () -> {
            Object last = null;
            for (ObjectNode payload : payloads) {
                last = mapper.map(payload);
            }
            return last;
        });
        for (Map.Entry<String, ContentRule> rule : rules.entrySet()) {
            works.put(rule.getKey(), () -> {
                int found = 0;
                for (LlmCall call : calls) {
                    found += rule.getValue().apply(call).size();
                }
                return found;
            });
        }
        double[] micros = Timings.interleavedMicros(CYCLES, new ArrayList<>(works.values()));
        for (int w = 0; w < micros.length; w++) {
            micros[w] /= calls.size(); // a run covers the 50 calls
        }
        double detectors = 0;
        for (int i = 1; i < micros.length; i++) {
            detectors += micros[i];
        }
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT, """
                Content detectors per call on IngestBench's mix (50 calls, failures found %s; \
                median of %d interleaved rounds \
                of %d cycles; %d cores, %s):
                | piece | µs per call | share of the detectors |
                |---|---:|---:|
                """, byType, Timings.ROUNDS, CYCLES, Runtime.getRuntime().availableProcessors(), Instant.now()));
        int i = 0;
        for (String name : works.keySet()) {
            table.append(String.format(Locale.ROOT, "| %s | %.2f | %s |%n", name, micros[i],
                    i == 0 ? "" : String.format(Locale.ROOT, "%.0f%%", 100 * micros[i] / detectors)));
            i++;
        }
        table.append(String.format(Locale.ROOT, "| all detectors | %.2f | 100%% |%n", detectors));
        System.out.println(table);
        Files.writeString(Path.of("target", "bench-content-mix.md"), table.toString());
        // the mix's one injection attempt in fifty, its e-mail address in twenty-five: the detectors did run
        assertThat(flagged).isGreaterThanOrEqualTo(2);
    }
}
