package io.faultline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.content.FunctionWords;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageIdentifier;
import io.faultline.testing.ConfigMappings;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the language identifier becomes trustworthy, which sets the {@code language_drift} cut-offs. No labeled
 * language set is in shared/eval, so the reference is the identifier's own verdict on the whole text, taken only
 * where the text is long (150+ letters) and the verdict near-certain (p ≥ 0.99); prefixes of those texts are then
 * judged at growing lengths. What matters for false drift alarms is how often a confident verdict on a prefix is
 * wrong.
 */
class LanguageEvalTest {

    private static final int[] LENGTHS = {10, 15, 20, 25, 30, 40, 60, 80, 120};

    private final LanguageConfig config = ConfigMappings.defaults(LanguageConfig.class);
    private final LanguageIdentifier identifier = new LanguageIdentifier(config.languages());

    @Test
    void confidentVerdictsAreRarelyWrongAboveTheCutOffs() throws IOException {
        Set<String> texts = new LinkedHashSet<>();
        for (JsonNode row : EvalData.rows("faithfulness_halueval_qa.jsonl")) {
            texts.add(row.get("context").asText());
        }
        for (JsonNode row : EvalData.rows("prompt_injection_deepset.jsonl")) {
            texts.add(row.get("text").asText());
        }
        for (JsonNode row : EvalData.rows("pii_presidio_synth.jsonl")) {
            texts.add(row.get("text").asText());
        }
        List<String[]> references = new ArrayList<>();
        for (String text : texts) {
            Optional<LanguageIdentifier.Guess> whole = identifier.identify(text, 150);
            if (whole.isPresent() && whole.get().probability() >= 0.99) {
                references.add(new String[] {whole.get().language(), LanguageIdentifier.prose(text)});
            }
        }
        StringBuilder table = new StringBuilder("## Language identification: where the cut-off lies\n\n");
        table.append(String.format(Locale.ROOT, "Reference texts: %d (%s). Languages configured: %s; confidence "
                + "needed: %.2f.%n%n", references.size(), languageCounts(references), config.languages(),
                config.minConfidence()));
        table.append("| prefix letters | texts | confident | wrong when confident | abstained |\n");
        table.append("|---:|---:|---:|---:|---:|\n");
        double wrongAtAnswerCutOff = 1;
        double wrongAtRequestCutOff = 1;
        for (int length : LENGTHS) {
            int judged = 0;
            int confident = 0;
            int wrong = 0;
            for (String[] reference : references) {
                String prefix = prefix(reference[1], length);
                if (prefix == null) {
                    continue;
                }
                judged++;
                Optional<LanguageIdentifier.Guess> guess = identifier.identify(prefix, 0);
                if (guess.isPresent() && guess.get().probability() >= config.minConfidence()) {
                    confident++;
                    if (!guess.get().language().equals(reference[0])) {
                        wrong++;
                    }
                }
            }
            double wrongRate = confident == 0 ? 0 : (double) wrong / confident;
            if (length == config.minAnswerLetters()) {
                wrongAtAnswerCutOff = wrongRate;
            }
            if (length == config.minRequestLetters()) {
                wrongAtRequestCutOff = wrongRate;
            }
            table.append(String.format(Locale.ROOT, "| %d | %d | %d | %.3f | %.3f |%n", length, judged, confident,
                    wrongRate, judged == 0 ? 0 : 1 - (double) confident / judged));
        }
        table.append(shortcut(references));
        table.append(String.format(Locale.ROOT, "%n- Cut-offs: an answer is judged from %d letters, a request's "
                + "language taken from %d letters. Drift needs both sides confident, so a false alarm needs a wrong "
                + "confident verdict on one side.%n- Caveat: the references are English and German only (the "
                + "languages of the shared sets), judged by the same identifier on the whole text.%n%n",
                config.minAnswerLetters(), config.minRequestLetters()));
        System.out.println(table);
        Files.createDirectories(Path.of("target", "eval"));
        Files.writeString(Path.of("target", "eval", "language.md"), table.toString());

        assertThat(references).hasSizeGreaterThan(300);
        assertThat(shortcutWronglySame).as("cross-language pairs the shortcut calls the same").isZero();
        assertThat(wrongAtAnswerCutOff).as("wrong confident verdicts at the answer cut-off").isLessThan(0.02);
        assertThat(wrongAtRequestCutOff).as("wrong confident verdicts at the request cut-off").isLessThan(0.03);
    }

    /**
     * The function-word shortcut on pairs of reference texts: how many same-language pairs it settles without the
     * identifier, and (the number that must stay 0) how many cross-language pairs it wrongly calls the same.
     */
    private String shortcut(List<String[]> references) {
        FunctionWords words = new FunctionWords(config.languages());
        List<String[]> english = references.stream().filter(r -> r[0].equals("en")).toList();
        List<String[]> german = references.stream().filter(r -> r[0].equals("de")).toList();
        int same = 0;
        int settled = 0;
        int cross = 0;
        int wronglySame = 0;
        for (int i = 0; i + 1 < english.size(); i++) {
            String a = prefix(english.get(i)[1], 200);
            String b = prefix(english.get(i + 1)[1], 120);
            String c = prefix(german.get(i % german.size())[1], 120);
            // Mixed rows exist (an English question before a German injection): the prefix itself must be in its
            // language, by a near-certain verdict, or the pair says nothing about the shortcut.
            if (a == null || b == null || c == null || !certainly(a, "en") || !certainly(b, "en")
                    || !certainly(c, "de")) {
                continue;
            }
            String first = words.dominant(a, config.shortcutFunctionWords());
            same++;
            if (first != null && first.equals(words.dominant(b, config.shortcutFunctionWords()))) {
                settled++;
            }
            cross++;
            if (first != null && first.equals(words.dominant(c, config.shortcutFunctionWords()))) {
                wronglySame++;
            }
        }
        shortcutWronglySame = wronglySame;
        return String.format(Locale.ROOT, "%nFunction-word shortcut (%d function words, twice any other language's"
                + " and a fifth of all words, on 200- and 120-letter prefixes): settles %d of %d same-language pairs"
                + " (%.0f%%) without the identifier; calls %d of %d English/German pairs the same language.%n",
                config.shortcutFunctionWords(), settled, same, 100.0 * settled / Math.max(1, same), wronglySame, cross);
    }

    private int shortcutWronglySame = -1;

    private boolean certainly(String text, String language) {
        Optional<LanguageIdentifier.Guess> guess = identifier.identify(text, 0);
        return guess.isPresent() && guess.get().language().equals(language) && guess.get().probability() >= 0.99;
    }

    /** The shortest word-boundary prefix of {@code text} with at least {@code letters} letters, or null. */
    private static String prefix(String text, int letters) {
        int seen = 0;
        for (int i = 0; i < text.length(); i++) {
            if (Character.isLetter(text.charAt(i))) {
                seen++;
            }
            if (seen >= letters && (i + 1 == text.length() || !Character.isLetter(text.charAt(i + 1)))) {
                return text.substring(0, i + 1);
            }
        }
        return null;
    }

    private static String languageCounts(List<String[]> references) {
        java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
        for (String[] reference : references) {
            counts.merge(reference[0], 1, Integer::sum);
        }
        return counts.toString();
    }
}
