package io.faultline.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.classify.ClassifyConfig;
import io.faultline.classify.SeverityPolicy;
import io.faultline.content.ContentConfig;
import io.faultline.content.FaithfulnessConfig;
import io.faultline.content.FaithfulnessRules;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageRules;
import io.faultline.eval.EvalData;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code make bench}: the cost per call of the language and faithfulness detectors (issue 16). The language check
 * with the 20 languages of today's default against the 7 Latin-script languages of the former default and against
 * 24 languages (4 more Latin ones), in the same run, on two traffic mixes: English questions answered in English
 * (the common case, which the function-word shortcut often settles), and questions and answers drawn from the 24 languages (a fifth of them drifting). The
 * faithfulness check on HaluEval's grounded calls (1-2 KB of context). Wall and thread-CPU µs per call, median of 7
 * interleaved rounds after warm-up rounds; CPU time is the steadier figure on this shared machine.
 */
class LanguageFaithfulnessBench {

    private static final Instant AT = Instant.parse("2026-12-03T10:00:00Z");
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, content);

    @Test
    void cost_per_call_of_the_language_and_faithfulness_detectors() throws Exception {
        List<String[]> sentences = sentences();
        Random random = new Random(16);
        List<LlmCall> english = new ArrayList<>();
        List<LlmCall> mixed = new ArrayList<>();
        List<String[]> en = sentences.stream().filter(s -> s[0].equals("en")).toList();
        for (int i = 0; i < 400; i++) {
            english.add(call(en.get(random.nextInt(en.size()))[1], en.get(random.nextInt(en.size()))[1]));
            String[] question = sentences.get(random.nextInt(sentences.size()));
            List<String[]> same = sentences.stream().filter(s -> s[0].equals(question[0])).toList();
            String[] answer = i % 5 == 0 ? sentences.get(random.nextInt(sentences.size()))
                    : same.get(random.nextInt(same.size()));
            mixed.add(call(question[1], answer[1]));
        }
        LanguageRules today = new LanguageRules(content, ConfigMappings.defaults(LanguageConfig.class));
        LanguageRules former = new LanguageRules(content, ConfigMappings.with(LanguageConfig.class,
                Map.of("faultline.language.languages", "en,de,fr,es,it,pt,nl")));
        LanguageRules wider = new LanguageRules(content, ConfigMappings.with(LanguageConfig.class,
                Map.of("faultline.language.languages",
                        "en,de,fr,es,it,pt,nl,pl,sv,tr,ro,cs,ru,uk,bg,zh,ja,ko,ar,fa,he,hi,el,th")));

        FaithfulnessRules faithfulness = new FaithfulnessRules(content,
                ConfigMappings.defaults(FaithfulnessConfig.class),
                // Outside Quarkus there is no "1h" shorthand converter: ISO-8601 for the durations not used here.
                new SeverityPolicy(ConfigMappings.with(ClassifyConfig.class, Map.of(
                        "faultline.classify.base-severity.low_faithfulness", "P4",
                        "faultline.classify.base-severity.hallucination", "P3",
                        "faultline.classify.timeout", "PT60S",
                        "faultline.classify.deployment-activity-window", "PT1H"))));
        List<LlmCall> grounded = new ArrayList<>();
        for (JsonNode row : EvalData.rows("faithfulness_halueval_qa.jsonl")) {
            Payloads payload = Payloads.success("openai", "gpt-4o", "dep-bench", AT)
                    .answer(row.get("response").asText(), "stop")
                    .metadata(Map.of("context", row.get("context").asText()));
            payload.node().putArray("messages").addObject().put("role", "user")
                    .put("content", row.get("question").asText());
            grounded.add(mapper.map(payload.node()));
        }

        String[] names = {"language, 20 languages, 8 Latin (default)", "language, 7 Latin languages (former default)",
            "language, 24 languages, 12 Latin (+sv,tr,ro,cs)"};
        LanguageRules[] variants = {today, former, wider};
        List<String> rows = new ArrayList<>();
        List<Runnable> work = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        for (String traffic : List.of("English question, English answer", "24 languages, 1 in 5 drifting")) {
            List<LlmCall> calls = traffic.startsWith("English") ? english : mixed;
            for (int v = 0; v < variants.length; v++) {
                LanguageRules rules = variants[v];
                rows.add("| " + names[v] + " | " + traffic);
                work.add(() -> calls.forEach(rules::apply));
                sizes.add(calls.size());
            }
        }
        rows.add("| faithfulness | HaluEval grounded calls (1-2 KB context)");
        work.add(() -> grounded.forEach(faithfulness::apply));
        sizes.add(grounded.size());
        // Every variant warmed up first, then the rounds interleaved, so that neither the JIT nor a burst of load
        // on this shared machine favours the one measured first.
        for (int warm = 0; warm < WARMUP; warm++) {
            work.forEach(Runnable::run);
        }
        long[][] cpu = new long[work.size()][ROUNDS];
        long[][] wall = new long[work.size()][ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            for (int w = 0; w < work.size(); w++) {
                long cpuStart = THREADS.getCurrentThreadCpuTime();
                long wallStart = System.nanoTime();
                work.get(w).run();
                wall[w][round] = System.nanoTime() - wallStart;
                cpu[w][round] = THREADS.getCurrentThreadCpuTime() - cpuStart;
            }
        }
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "Language and faithfulness detectors, "
                + "µs per call, median of %d interleaved rounds after %d warm-up rounds (thread CPU, and wall), "
                + "%d cores, %s%n| detector | traffic | calls | CPU µs per call | wall µs per call |%n"
                + "|---|---|---:|---:|---:|%n", ROUNDS, WARMUP, Runtime.getRuntime().availableProcessors(),
                Instant.now()));
        for (int w = 0; w < work.size(); w++) {
            java.util.Arrays.sort(cpu[w]);
            java.util.Arrays.sort(wall[w]);
            out.append(String.format(Locale.ROOT, "%s | %d | %.1f | %.1f |%n", rows.get(w), sizes.get(w),
                    cpu[w][ROUNDS / 2] / 1000.0 / sizes.get(w), wall[w][ROUNDS / 2] / 1000.0 / sizes.get(w)));
        }
        System.out.println(out);
        Files.writeString(Path.of("target", "bench-language-faithfulness.md"), out.toString());
        assertThat(cpu[0][ROUNDS / 2]).as("measured").isPositive();
    }

    private static final int WARMUP = 10;
    private static final int ROUNDS = 15;

    private LlmCall call(String question, String answer) {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-bench", AT).answer(answer, "stop");
        payload.node().putArray("messages").addObject().put("role", "user").put("content", question);
        return mapper.map(payload.node());
    }

    private static List<String[]> sentences() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<String[]> sentences = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                LanguageFaithfulnessBench.class.getResourceAsStream("/eval/language_sentences.jsonl"),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                JsonNode row = json.readTree(line);
                sentences.add(new String[] {row.get("lang").asText(), row.get("text").asText()});
            }
        }
        return sentences;
    }
}
