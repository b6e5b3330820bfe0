package io.faultline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.content.ContentConfig;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageIdentifier;
import io.faultline.content.LanguageRules;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The language identifier and {@code language_drift} against labelled references: sentences whose language is known
 * from their source (src/test/resources/eval/language_sentences.jsonl, 40 per language, 24 languages, from Lingua's
 * test data: see the README there), never the identifier's own verdict. The configured languages (20 by default) are
 * judged. Split into a development part and a held-out
 * part by a stable hash of language and line ({@link EvalData#heldOut}); the floors hold on both.
 * <p>
 * Two measurements: identification per language at growing prefix lengths (in letters, a Han, kana or hangul
 * character counting three), and the drift rule itself ({@link LanguageRules}, real call mapping) on every pair of
 * question language and answer language, at the cut-offs (a question of {@code min-request-letters} letters and an
 * answer of {@code min-answer-letters}, the shortest texts the rule judges) and on longer texts.
 */
class LanguageEvalTest {

    private static final int[] LENGTHS = {20, 40, 60, 120};
    private static final Instant AT = Instant.parse("2026-12-03T10:00:00Z");
    /** Pairs of texts per (question language, answer language) cell and split. */
    private static final int PER_CELL = 4;

    private final LanguageConfig config = ConfigMappings.defaults(LanguageConfig.class);
    private final ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
    private final LanguageIdentifier identifier = new LanguageIdentifier(config.languages(), config.minScriptShare());
    private final LanguageRules rules = new LanguageRules(content, config);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, content);

    record Sentence(String language, String text, boolean heldOut) {
    }

    /** A rate with its 95% Wilson score interval. */
    static String rate(int hits, int n) {
        if (n == 0) {
            return "n/a";
        }
        double[] ci = wilson(hits, n);
        return String.format(Locale.ROOT, "%.3f [%.2f, %.2f] (%d/%d)", (double) hits / n, ci[0], ci[1], hits, n);
    }

    static double[] wilson(int hits, int n) {
        double z = 1.96;
        double p = (double) hits / n;
        double denominator = 1 + z * z / n;
        double centre = (p + z * z / (2 * n)) / denominator;
        double half = z * Math.sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denominator;
        return new double[] {Math.max(0, centre - half), Math.min(1, centre + half)};
    }

    @Test
    void labelledLanguagesAndPairsHoldTheirFloors() throws IOException {
        List<Sentence> sentences = sentences();
        Map<String, List<Sentence>> dev = new TreeMap<>();
        Map<String, List<Sentence>> held = new TreeMap<>();
        for (Sentence s : sentences) {
            if (!config.languages().contains(s.language())) {
                continue; // in the set for operators who configure it; not judged with the defaults
            }
            (s.heldOut() ? held : dev).computeIfAbsent(s.language(), k -> new ArrayList<>()).add(s);
        }
        assertThat(dev.keySet()).as("every configured language has labelled sentences")
                .containsAll(config.languages());

        StringBuilder out = new StringBuilder("## Language identification and language_drift (labelled references)\n\n");
        long configured = sentences.stream().filter(s -> config.languages().contains(s.language())).count();
        out.append(String.format(Locale.ROOT, "References: %d sentences, 40 per language in the %d configured "
                + "languages (%d held out), from Lingua's test data (Leipzig Wortschatz web text), not from the "
                + "Wikipedia text the n-gram profiles were built from. Languages configured (the default): %s. "
                + "Confidence needed: %.2f. Rates carry their 95%% Wilson interval.%n%n", configured, dev.size(),
                sentences.stream().filter(s -> s.heldOut() && config.languages().contains(s.language())).count(),
                config.languages(), config.minConfidence()));

        // 1. Identification per language and prefix length.
        out.append("### Identification: correct and confident, per language (held-out and development together)\n\n");
        out.append("| language |");
        for (int length : LENGTHS) {
            out.append(" ").append(length).append(" letters |");
        }
        out.append(" wrong when confident, at ").append(config.minAnswerLetters()).append(" |\n|---|");
        out.append("---:|".repeat(LENGTHS.length)).append("---:|\n");
        int[] wrongAtCutOff = new int[2]; // wrong confident, confident; all languages, at the answer cut-off
        int[][] heldCorrect = new int[LENGTHS.length][2];
        for (String language : dev.keySet()) {
            List<Sentence> all = new ArrayList<>(dev.get(language));
            all.addAll(held.getOrDefault(language, List.of()));
            out.append("| ").append(language).append(" |");
            int wrong = 0;
            int confident = 0;
            for (int l = 0; l < LENGTHS.length; l++) {
                int correct = 0;
                int judged = 0;
                for (int i = 0; i < all.size(); i++) {
                    String prefix = prefix(all.get(i).text() + " " + all.get((i + 1) % all.size()).text(),
                            LENGTHS[l]);
                    if (prefix == null) {
                        continue;
                    }
                    judged++;
                    Optional<LanguageIdentifier.Guess> guess = identifier.identify(prefix, 0);
                    boolean sure = guess.isPresent() && guess.get().probability() >= config.minConfidence();
                    boolean right = sure && guess.get().language().equals(language);
                    correct += right ? 1 : 0;
                    if (all.get(i).heldOut()) {
                        heldCorrect[l][0] += right ? 1 : 0;
                        heldCorrect[l][1]++;
                    }
                    if (LENGTHS[l] == config.minAnswerLetters() && sure) {
                        confident++;
                        wrong += right ? 0 : 1;
                    }
                }
                out.append(String.format(Locale.ROOT, " %.2f |", judged == 0 ? 0 : (double) correct / judged));
            }
            wrongAtCutOff[0] += wrong;
            wrongAtCutOff[1] += confident;
            out.append(" ").append(wrong).append('/').append(confident).append(" |\n");
        }
        out.append("\nHeld-out sentences, all languages: correct and confident at ");
        for (int l = 0; l < LENGTHS.length; l++) {
            out.append(LENGTHS[l]).append(" letters ").append(rate(heldCorrect[l][0], heldCorrect[l][1]))
                    .append(l + 1 < LENGTHS.length ? "; " : ".\n");
        }
        out.append("Wrong when confident at the answer cut-off, all languages: ")
                .append(rate(wrongAtCutOff[0], wrongAtCutOff[1])).append(".\n\n");

        // 2. The drift rule on language pairs, at the cut-offs and on longer texts.
        Map<String, PairResult> results = new LinkedHashMap<>();
        for (String split : List.of("dev", "held-out")) {
            Map<String, List<Sentence>> part = split.equals("dev") ? dev : held;
            for (boolean atCutOff : new boolean[] {true, false}) {
                int questionLetters = atCutOff ? config.minRequestLetters() : 120;
                int answerLetters = atCutOff ? config.minAnswerLetters() : 200;
                results.put(split + (atCutOff ? ", at the cut-offs" : ", longer texts"),
                        pairs(part, questionLetters, answerLetters));
            }
        }
        out.append(String.format(Locale.ROOT, "### language_drift on question/answer language pairs%n%n"
                + "Every ordered pair of the %d languages, %d calls per pair and split (question and answer drawn "
                + "from different sentences). \"At the cut-offs\": the question cut to %d letters and the answer "
                + "to %d, the shortest texts the rule judges; \"longer\": 120 and 200 letters. A same-language "
                + "pair is right when nothing is raised; a cross-language pair when language_drift is raised "
                + "(an abstention there counts as a miss).%n%n", dev.size(), PER_CELL, config.minRequestLetters(),
                config.minAnswerLetters()));
        out.append("| split | accuracy, all pairs | drift caught (cross-language) | false alarms (same language) "
                + "| cross-script caught | same-script cross-language caught |\n|---|---:|---:|---:|---:|---:|\n");
        for (Map.Entry<String, PairResult> entry : results.entrySet()) {
            PairResult r = entry.getValue();
            out.append("| ").append(entry.getKey()).append(" | ").append(rate(r.right, r.total)).append(" | ")
                    .append(rate(r.caught, r.cross)).append(" | ").append(rate(r.falseAlarms, r.same)).append(" | ")
                    .append(rate(r.crossScriptCaught, r.crossScript)).append(" | ")
                    .append(rate(r.caught - r.crossScriptCaught, r.cross - r.crossScript)).append(" |\n");
        }
        PairResult dev60 = results.get("dev, at the cut-offs");
        PairResult held60 = results.get("held-out, at the cut-offs");
        PairResult devLong = results.get("dev, longer texts");
        PairResult heldLong = results.get("held-out, longer texts");
        out.append("\nPer pair, development and held-out together, at the cut-offs: the pairs named in the issue "
                + "and those within a script (where the n-grams decide), then every pair below 0.75.\n\n"
                + "| question → answer | right at the cut-offs | right, longer texts |\n|---|---:|---:|\n");
        List<String> named = new ArrayList<>(List.of("ja→en", "zh→en", "ko→en", "ru→en", "ar→en", "hi→en",
                "he→en", "el→en", "th→en", "en→ja", "en→zh", "zh→ja", "ja→zh", "ja→ja", "zh→zh", "ko→ko",
                "de→en", "en→de", "es→pt", "pt→es", "es→it", "it→es", "fr→es", "de→nl", "nl→de", "cs→pl",
                "pl→cs", "pl→en", "ru→uk", "uk→ru", "ru→bg", "bg→ru", "uk→bg", "ar→fa", "fa→ar"));
        named.removeIf(pair -> !dev60.cells.containsKey(pair));
        for (String pair : dev60.cells.keySet()) {
            int[] cell = sum(dev60.cells.get(pair), held60.cells.get(pair));
            if (!named.contains(pair) && cell[0] < 0.75 * cell[1]) {
                named.add(pair);
            }
        }
        for (String pair : named) {
            int[] cut = sum(dev60.cells.get(pair), held60.cells.get(pair));
            int[] longer = sum(devLong.cells.get(pair), heldLong.cells.get(pair));
            out.append("| ").append(pair).append(" | ").append(cut[0]).append('/').append(cut[1]).append(" | ")
                    .append(longer[0]).append('/').append(longer[1]).append(" |\n");
        }
        out.append(String.format(Locale.ROOT, "%n- Cut-offs: an answer is judged from %d letters, a request's "
                + "language taken from %d letters (CJK characters count three). Drift needs both sides confident, "
                + "so a false alarm needs a wrong confident verdict on one side.%n- Caveats: the references are web "
                + "sentences (news, shops, forums), not chat turns; the 'question' is a sentence of the question's "
                + "language, not a question. Only the first letters of each text are judged; 40 sentences per "
                + "language make the per-pair counts small (%d calls per pair at each length), so read the "
                + "per-pair figures as indications and the totals, with their intervals, as the measurement.%n%n",
                config.minAnswerLetters(), config.minRequestLetters(), 2 * PER_CELL));
        System.out.println(out);
        Files.createDirectories(Path.of("target", "eval"));
        Files.writeString(Path.of("target", "eval", "language.md"), out.toString());

        assertThat(wrongAtCutOff[0]).as("wrong confident verdicts at the answer cut-off")
                .isLessThan((int) Math.ceil(0.03 * wrongAtCutOff[1]));
        // Floors a little under what was measured (eval/RESULTS.md), on the development and the held-out part.
        for (PairResult r : List.of(dev60, held60)) {
            assertThat(r.falseAlarms).as("false drift alarms on same-language pairs at the cut-offs")
                    .isLessThanOrEqualTo((int) Math.ceil(0.02 * r.same));
            assertThat((double) r.caught / r.cross).as("drift caught at the cut-offs").isGreaterThanOrEqualTo(0.88);
            assertThat((double) r.crossScriptCaught / r.crossScript).as("cross-script drift caught at the cut-offs")
                    .isGreaterThanOrEqualTo(0.88);
        }
        for (PairResult r : List.of(devLong, heldLong)) {
            assertThat(r.falseAlarms).as("false drift alarms, longer texts")
                    .isLessThanOrEqualTo((int) Math.ceil(0.02 * r.same));
            assertThat((double) r.caught / r.cross).as("drift caught, longer texts").isGreaterThanOrEqualTo(0.95);
            assertThat((double) (r.caught - r.crossScriptCaught) / (r.cross - r.crossScript))
                    .as("same-script drift caught, longer texts").isGreaterThanOrEqualTo(0.97);
        }
        int[] japaneseToEnglish = sum(devLong.cells.get("ja→en"), heldLong.cells.get("ja→en"));
        assertThat(japaneseToEnglish[0]).as("a Japanese question answered in English").isEqualTo(japaneseToEnglish[1]);
        int[] atCutOff = sum(dev60.cells.get("ja→en"), held60.cells.get("ja→en"));
        assertThat(atCutOff[0]).as("the same at the cut-offs").isGreaterThanOrEqualTo(atCutOff[1] * 3 / 4);
    }

    /** The drift rule's results over all ordered language pairs of one split. */
    static final class PairResult {
        int total;
        int right;
        int cross;
        int caught;
        int same;
        int falseAlarms;
        int crossScript;
        int crossScriptCaught;
        final Map<String, int[]> cells = new LinkedHashMap<>();
    }

    private PairResult pairs(Map<String, List<Sentence>> part, int questionLetters, int answerLetters) {
        PairResult result = new PairResult();
        for (String asked : part.keySet()) {
            for (String answered : part.keySet()) {
                List<Sentence> questions = part.get(asked);
                List<Sentence> answers = part.get(answered);
                int[] cell = new int[2];
                for (int k = 0; k < PER_CELL; k++) {
                    Sentence q = questions.get(k % questions.size());
                    // A different sentence on the answer side, also when both sides have the same language.
                    int a = (k + 1 + asked.hashCode() % 3 + 3) % answers.size();
                    String question = prefix(q.text() + " " + questions.get((k + 2) % questions.size()).text()
                            + " " + questions.get((k + 3) % questions.size()).text(), questionLetters);
                    String answer = prefix(answers.get(a).text() + " " + answers.get((a + 1) % answers.size()).text()
                            + " " + answers.get((a + 2) % answers.size()).text(), answerLetters);
                    if (question == null || answer == null) {
                        continue;
                    }
                    boolean drift = !rules.apply(call(question, answer)).isEmpty();
                    boolean expected = !asked.equals(answered);
                    boolean right = drift == expected;
                    result.total++;
                    result.right += right ? 1 : 0;
                    cell[0] += right ? 1 : 0;
                    cell[1]++;
                    if (expected) {
                        result.cross++;
                        result.caught += drift ? 1 : 0;
                        if (!script(asked).equals(script(answered))) {
                            result.crossScript++;
                            result.crossScriptCaught += drift ? 1 : 0;
                        }
                    } else {
                        result.same++;
                        result.falseAlarms += drift ? 1 : 0;
                    }
                }
                result.cells.put(asked + "→" + answered, cell);
            }
        }
        return result;
    }

    private static String script(String language) {
        return switch (language) {
            case "ru", "uk", "bg" -> "cyrillic";
            case "ar", "fa" -> "arabic";
            case "zh", "ja", "ko", "he", "hi", "el", "th" -> language;
            default -> "latin";
        };
    }

    private static int[] sum(int[] a, int[] b) {
        return new int[] {a[0] + (b == null ? 0 : b[0]), a[1] + (b == null ? 0 : b[1])};
    }

    private LlmCall call(String question, String answer) {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(answer, "stop");
        payload.node().putArray("messages").addObject().put("role", "user").put("content", question);
        return mapper.map(payload.node());
    }

    /** The labelled sentences, also read by InjectionEvalTest as benign text in 24 languages. */
    static List<Sentence> sentences() throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Sentence> sentences = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                LanguageEvalTest.class.getResourceAsStream("/eval/language_sentences.jsonl"),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (!line.isBlank()) {
                    JsonNode row = json.readTree(line);
                    String language = row.get("lang").asText();
                    sentences.add(new Sentence(language, row.get("text").asText(),
                            EvalData.heldOut(language + ":" + row.get("line").asInt())));
                }
            }
        }
        return sentences;
    }

    /**
     * The shortest word-boundary prefix of {@code text} with at least {@code letters} letters (as
     * {@link LanguageIdentifier#letters} counts them), cut inside a word only in scripts without spaces; or null.
     */
    static String prefix(String text, int letters) {
        int seen = 0;
        for (int i = 0; i < text.length(); i++) {
            seen += LanguageIdentifier.letters(text.substring(i, i + 1));
            if (seen >= letters && (i + 1 == text.length() || !Character.isLetter(text.charAt(i + 1))
                    || LanguageIdentifier.letters(text.substring(i, i + 1)) > 1 || seen >= letters + 12)) {
                return text.substring(0, i + 1);
            }
        }
        return null;
    }
}
