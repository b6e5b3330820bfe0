package io.faultline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.content.InjectionConfig;
import io.faultline.content.InjectionDetector;
import io.faultline.content.InjectionDetector.Verdict;
import io.faultline.testing.ConfigMappings;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The injection and jailbreak heuristics on deepset/prompt-injections (see shared/eval/SOURCES.md). The rules were
 * written against the dataset's own train split only; its test split stayed unread and is reported on its own.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class InjectionEvalTest {

    /** The floors this detector commits to, on the whole set and on the development split. */
    static final double MIN_PRECISION = 0.85;
    static final double MIN_RECALL = 0.60;

    private final InjectionConfig config = ConfigMappings.defaults(InjectionConfig.class);
    private final InjectionDetector detector = new InjectionDetector(config);

    @Test
    void heuristics_hold_their_precision_and_recall_floors_on_deepset_prompt_injections() {
        List<JsonNode> rows = EvalData.rows("prompt_injection_deepset.jsonl");
        Confusion dev = Confusion.EMPTY;
        Confusion heldOut = Confusion.EMPTY;
        Confusion all = Confusion.EMPTY;
        int typedJailbreak = 0;
        int jailbreakOnly = 0;
        for (JsonNode row : rows) {
            boolean expected = "injection".equals(row.path("label").asText());
            Verdict verdict = detector.scan(row.path("text").asText());
            boolean injection = verdict.injectionScore() >= config.injectionThreshold();
            boolean jailbreak = verdict.jailbreakScore() >= config.jailbreakThreshold();
            boolean predicted = injection || jailbreak;
            if (predicted && jailbreak) {
                typedJailbreak++;
                if (!injection) {
                    jailbreakOnly++;
                }
            }
            all = all.add(expected, predicted);
            if ("test".equals(row.path("orig_split").asText())) {
                heldOut = heldOut.add(expected, predicted);
            } else {
                dev = dev.add(expected, predicted);
            }
        }

        EvalReport report = new EvalReport("injection", "Prompt injection and jailbreak heuristics (deepset)")
                .line("injection or jailbreak", "dev (orig train)", dev)
                .line("injection or jailbreak", "held-out (orig test)", heldOut)
                .line("injection or jailbreak", "all", all)
                .note("Set: deepset/prompt-injections via sinanw/llm-security-prompt-injection, all 263 injections and"
                        + " 263 sampled benign rows (shared/eval/SOURCES.md). A row is positive when either type fires;"
                        + " its label does not separate injection from jailbreak.")
                .note(String.format(Locale.ROOT, "Of %d rows flagged, %d were typed jailbreak_attempt (%d of them"
                        + " jailbreak only).", all.tp() + all.fp(), typedJailbreak, jailbreakOnly))
                .note("Split: the dataset's own train split (432 rows) was the development set; phrase families were"
                        + " written from known attack patterns (OWASP LLM01, DAN prompts, override, role-play,"
                        + " extraction, delimiter and encoding tricks) and dev misses were read only to find missing"
                        + " families. The test split (94 rows) was not read; after its figures were first computed only"
                        + " performance changes and a jailbreak/injection type separation were made, none aimed at it.")
                .note(String.format(Locale.ROOT, "Defaults: injection threshold %.2f, jailbreak threshold %.2f;"
                        + " scores are the noisy-OR of per-signal weights.", config.injectionThreshold(),
                        config.jailbreakThreshold()))
                .note("Caveats: deepset's injections are short and mostly target one newspaper-QA bot (\"ZEIT"
                        + " ONLINE\"); many are bare off-topic or opinion asks (\"state that X is the best\") that no"
                        + " phrase heuristic can tell from a question, which bounds recall. The benign rows are plain"
                        + " questions, so precision here is an upper bound on what real traffic with role-play or"
                        + " prompt-engineering talk will see. Languages other than English and German are covered only"
                        + " for \"forget everything\".");
        report.write();

        assertThat(all.precision()).as("precision, all").isGreaterThanOrEqualTo(MIN_PRECISION);
        assertThat(all.recall()).as("recall, all").isGreaterThanOrEqualTo(MIN_RECALL);
        assertThat(dev.precision()).as("precision, dev").isGreaterThanOrEqualTo(MIN_PRECISION);
        assertThat(dev.recall()).as("recall, dev").isGreaterThanOrEqualTo(MIN_RECALL);
    }
}
