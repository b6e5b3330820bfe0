package io.faultline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.content.FaithfulnessConfig;
import io.faultline.content.FaithfulnessScorer;
import io.faultline.testing.ConfigMappings;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Random;
import java.util.TreeMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The faithfulness check on HaluEval QA (shared/eval/faithfulness_halueval_qa.jsonl) with its default thresholds.
 * Positive = hallucinated. Faithful answers there are short gold spans and hallucinated ones longer, so the headline
 * is the length-matched subset: pairs whose two answers are within a factor of {@link #LENGTH_RATIO} in word count.
 */
class FaithfulnessEvalTest {

    static final double FLOOR = 0.75;
    static final double LENGTH_RATIO = 2.0;
    private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}]+");

    private record Row(int pairId, boolean hallucinated, boolean heldOut, boolean lengthMatched,
            FaithfulnessScorer.Verdict verdict) {
    }

    @Test
    void halueval_accuracy_holds_the_floor_after_length_matching() {
        FaithfulnessScorer scorer = new FaithfulnessScorer(ConfigMappings.defaults(FaithfulnessConfig.class));
        List<JsonNode> data = EvalData.rows("faithfulness_halueval_qa.jsonl");
        Map<Integer, int[]> wordsByPair = new LinkedHashMap<>();
        for (JsonNode row : data) {
            int[] words = wordsByPair.computeIfAbsent(row.path("pair_id").asInt(), id -> new int[2]);
            words["faithful".equals(row.path("label").asText()) ? 0 : 1] = words(row.path("response").asText());
        }
        List<Row> rows = new ArrayList<>();
        for (JsonNode row : data) {
            int pairId = row.path("pair_id").asInt();
            int[] words = wordsByPair.get(pairId);
            boolean matched = Math.max(words[0], words[1]) <= LENGTH_RATIO * Math.min(words[0], words[1]);
            rows.add(new Row(pairId, "hallucinated".equals(row.path("label").asText()),
                    EvalData.heldOut(String.valueOf(pairId)), matched,
                    scorer.score(row.path("response").asText(), row.path("question").asText(),
                            List.of(row.path("context").asText()))));
        }

        EvalReport report = new EvalReport("faithfulness",
                "Faithfulness: low_faithfulness / hallucination (HaluEval QA)");
        Map<String, Confusion> either = new LinkedHashMap<>();
        for (boolean matchedOnly : new boolean[] {true, false}) {
            for (String split : List.of("dev", "held-out", "all")) {
                Predicate<Row> inSplit = row -> (!matchedOnly || row.lengthMatched())
                        && (split.equals("all") || row.heldOut() == split.equals("held-out"));
                String label = split + (matchedOnly ? ", length-matched" : ", full");
                Confusion any = confusion(rows, inSplit, FaithfulnessScorer.Verdict::unfaithful);
                either.put(label, any);
                report.line("either type", label, any);
                report.line("hallucination only", label,
                        confusion(rows, inSplit, FaithfulnessScorer.Verdict::hallucination));
            }
        }
        long pairs = wordsByPair.size();
        long matchedPairs = rows.stream().filter(Row::lengthMatched).map(Row::pairId).distinct().count();
        long heldOutMatched = rows.stream().filter(r -> r.lengthMatched() && r.heldOut()).map(Row::pairId).distinct()
                .count();
        Map<FaithfulnessScorer.Outcome, Long> outcomes = new LinkedHashMap<>();
        rows.forEach(r -> outcomes.merge(r.verdict().outcome(), 1L, Long::sum));
        report.note("Method: lexical claim support (FaithfulnessScorer): content units of the answer (numbers x3, "
                + "names x2, other words x1; stopwords ignored; lower-cased, possessive/plural s dropped, truncated "
                + "to 6 letters) looked up in the context and the question. Defaults: a claim (sentence) is unsupported "
                + "below 0.5 support, or with >= 2 unsupported name/number tokens, or >= 1 contradicted number/year; "
                + "hallucination when unsupported claims are at least half the claims (HaluEval answers are one "
                + "claim) or support is below 0.5; low_faithfulness below 0.8 support or with any unsupported claim. "
                + "Numbers derived from grounded numbers count as supported (see the type-accuracy section). General rules were revised after reading dev errors only (yes/no as stopwords, "
                + "tokens like 30A, sentence-initial capitals); thresholds are set for answers that paraphrase, not "
                + "fit to these rows (a higher low_faithfulness threshold scores better here only because the "
                + "faithful answers are verbatim spans).");
        report.note("Positive = hallucinated. \"either type\" counts a row as predicted positive when "
                + "low_faithfulness or hallucination fires (what an operator sees); \"hallucination only\" counts "
                + "the strong form alone. Rows without a verdict (e.g. yes/no answers with no content unit) are "
                + "predicted negative.");
        report.note(String.format(Locale.ROOT, "Length matching: a pair is kept when its two answers are within a "
                + "factor of %.1f in word count (max <= %.1f x min). It keeps %d of %d pairs (%d of them held out). "
                + "The detector itself never uses length; only answers with no content unit are skipped, for "
                + "either label.", LENGTH_RATIO, LENGTH_RATIO, matchedPairs, pairs, heldOutMatched));
        report.note("Split: held-out = EvalData.heldOut(pair_id), about 1 pair in 5, not looked at while developing. "
                + "Outcomes over all rows: " + outcomes + ".");
        report.note("Caveats: faithful answers here are gold spans copied from the context, so precision is "
                + "flattering: real answers paraphrase, and a paraphrase with words the context lacks loses support. "
                + "Recall misses hallucinations that recombine grounded names into a false relation, negations and "
                + "wrong yes/no answers: words cannot see them. The matched subset holds the shorter hallucinations, "
                + "often one- or two-word wrong entities. The held-out matched slice is small (21 pairs, 42 rows): its "
                + "accuracy has a 95% interval of roughly +/-0.12.");
        StringBuilder intervals = new StringBuilder("Accuracy of \"either type\" with its 95% Wilson interval: ");
        either.forEach((label, c) -> intervals.append(label).append(' ')
                .append(LanguageEvalTest.rate(c.tp() + c.tn(), c.total())).append("; "));
        report.note(intervals.substring(0, intervals.length() - 2) + ".");
        report.write();

        assertThat(either.get("all, length-matched").accuracy()).isGreaterThanOrEqualTo(FLOOR);
        assertThat(either.get("dev, length-matched").accuracy()).isGreaterThanOrEqualTo(FLOOR);
        // The held-out slice is small (42 rows, +/-0.12): its floor sits lower, at what its interval allows.
        assertThat(either.get("held-out, length-matched").accuracy()).isGreaterThanOrEqualTo(HELD_OUT_FLOOR);
    }

    static final double HELD_OUT_FLOOR = 0.70;

    /** The type a verdict raises, as FaithfulnessRules would with both types on. */
    static String type(FaithfulnessScorer.Verdict verdict) {
        if (!verdict.judged()) {
            return "none";
        }
        return verdict.hallucination() ? "hallucination" : verdict.lowFaithfulness() ? "low_faithfulness" : "none";
    }

    static final List<String> TYPES = List.of("none", "low_faithfulness", "hallucination");

    /** One labelled case: the expected type and where it falls. */
    record Case(String id, String group, String kind, String context, String question, String answer,
            String expected, boolean heldOut) {
    }

    /**
     * Type accuracy (none / low_faithfulness / hallucination), not only flagged-or-not: on HaluEval (faithful =
     * none, hallucinated = hallucination: each answer there is one claim) and on the partial-support set written for
     * this project (src/test/resources/eval/faithfulness_partial.jsonl), with a sweep of the two type thresholds on
     * the development parts that shows where the defaults come from.
     */
    @Test
    void type_accuracy_on_halueval_and_the_partial_support_set() throws IOException {
        FaithfulnessConfig defaults = ConfigMappings.defaults(FaithfulnessConfig.class);
        List<Case> partial = partialSet();
        List<Case> halueval = haluevalCases();
        StringBuilder out = new StringBuilder("## Faithfulness: type accuracy (none / low_faithfulness / "
                + "hallucination)\n\n");
        out.append("Rates with their 95% Wilson interval. Types as FaithfulnessRules raises them with both on; "
                + "an unjudged answer (abstention, no content unit) is none.\n\n");
        out.append("| set | split | type accuracy | flagged-or-not accuracy |\n|---|---|---:|---:|\n");
        Map<String, double[]> accuracy = new LinkedHashMap<>();
        FaithfulnessScorer scorer = new FaithfulnessScorer(defaults);
        for (String set : List.of("partial-support set", "HaluEval QA, length-matched", "HaluEval QA, full")) {
            List<Case> cases = set.startsWith("partial") ? partial
                    : halueval.stream().filter(c -> set.endsWith("full") || c.kind().equals("matched")).toList();
            for (String split : List.of("dev", "held-out", "all")) {
                List<Case> part = cases.stream()
                        .filter(c -> split.equals("all") || c.heldOut() == split.equals("held-out")).toList();
                int right = 0;
                int flaggedRight = 0;
                for (Case c : part) {
                    String got = type(scorer.score(c.answer(), c.question(), List.of(c.context())));
                    right += got.equals(c.expected()) ? 1 : 0;
                    flaggedRight += got.equals("none") == c.expected().equals("none") ? 1 : 0;
                }
                accuracy.put(set + "/" + split, new double[] {(double) right / part.size()});
                out.append("| ").append(set).append(" | ").append(split).append(" | ")
                        .append(LanguageEvalTest.rate(right, part.size())).append(" | ")
                        .append(LanguageEvalTest.rate(flaggedRight, part.size())).append(" |\n");
            }
        }
        out.append("\nPartial-support set, all cases, expected (rows) against raised (columns):\n\n")
                .append(confusionTable(partial, scorer));
        out.append("\nPartial-support set by kind of answer (all cases):\n\n| kind | right type |\n|---|---:|\n");
        Map<String, int[]> byKind = new TreeMap<>();
        for (Case c : partial) {
            int[] k = byKind.computeIfAbsent(c.kind(), x -> new int[2]);
            k[0] += type(scorer.score(c.answer(), c.question(), List.of(c.context()))).equals(c.expected()) ? 1 : 0;
            k[1]++;
        }
        byKind.forEach((kind, k) -> out.append("| ").append(kind).append(" | ")
                .append(LanguageEvalTest.rate(k[0], k[1])).append(" |\n"));
        out.append("\nHaluEval QA, length-matched, all rows, expected (rows) against raised (columns):\n\n")
                .append(confusionTable(halueval.stream().filter(c -> c.kind().equals("matched")).toList(), scorer));

        // Where the thresholds come from: type accuracy on the development parts only.
        out.append("\nThreshold sweep, development parts only (type accuracy: partial-support set / HaluEval "
                + "length-matched). Rows: hallucination-claim-share; columns: low-faithfulness-threshold.\n\n");
        double[] lows = {0.7, 0.8, 0.9};
        out.append("| claim share |");
        for (double low : lows) {
            out.append(" low < ").append(low).append(" |");
        }
        out.append("\n|---:|").append("---:|".repeat(lows.length)).append('\n');
        for (double share : new double[] {0.34, 0.5, 0.67, 1.0}) {
            out.append("| ").append(share).append(" |");
            for (double low : lows) {
                FaithfulnessScorer swept = new FaithfulnessScorer(ConfigMappings.with(FaithfulnessConfig.class,
                        Map.of("faultline.faithfulness.hallucination-claim-share", String.valueOf(share),
                                "faultline.faithfulness.low-faithfulness-threshold", String.valueOf(low))));
                out.append(String.format(Locale.ROOT, " %.3f / %.3f |",
                        typeAccuracy(partial.stream().filter(c -> !c.heldOut()).toList(), swept),
                        typeAccuracy(halueval.stream().filter(c -> !c.heldOut() && c.kind().equals("matched"))
                                .toList(), swept)));
            }
            out.append('\n');
        }
        out.append(String.format(Locale.ROOT, "%n- Definitions (defaults): a claim (sentence) is unsupported when "
                + "its weighted support is below %.2f, or it holds >= %d unsupported name/number tokens, or a "
                + "contradicted number; hallucination when unsupported claims are >= %.2f of the claims (they "
                + "dominate) or the whole answer's support is below %.2f; low_faithfulness when at least one claim "
                + "is unsupported but fewer, or support is below %.2f. Numbers derived from two grounded numbers "
                + "(sum, difference, product, ratio, percentage, percentage change, doubling; a year only as a year "
                + "plus or minus a grounded number) count as supported. Abstentions (English and German phrase "
                + "families: the source does not contain/mention..., no information on..., not mentioned in..., "
                + "geht nicht hervor, keine Angaben zu...) get no verdict.%n"
                + "- Partial-support set: %d cases in %d groups written for this project (README beside it); "
                + "held-out = %d groups drawn with Random(%d), never used to set the rules or the thresholds. Small: "
                + "read the intervals.%n"
                + "- HaluEval: faithful = none, hallucinated = hallucination; its answers are single claims, so it "
                + "cannot show low_faithfulness; its caveats (length cue, gold spans) are in the section above.%n%n",
                defaults.hallucinationThreshold(), defaults.hallucinationMinUnsupportedEntities(),
                defaults.hallucinationClaimShare(), defaults.hallucinationThreshold(),
                defaults.lowFaithfulnessThreshold(), partial.size(),
                partial.stream().map(Case::group).distinct().count(), HELD_OUT_GROUPS, SPLIT_SEED));
        System.out.println(out);
        Files.createDirectories(Path.of("target", "eval"));
        Files.writeString(Path.of("target", "eval", "faithfulness-types.md"), out.toString());

        assertThat(accuracy.get("partial-support set/dev")[0]).as("type accuracy, partial set, dev")
                .isGreaterThanOrEqualTo(PARTIAL_FLOOR);
        assertThat(accuracy.get("partial-support set/held-out")[0]).as("type accuracy, partial set, held-out")
                .isGreaterThanOrEqualTo(PARTIAL_FLOOR);
        assertThat(accuracy.get("HaluEval QA, length-matched/dev")[0]).as("type accuracy, HaluEval matched, dev")
                .isGreaterThanOrEqualTo(HALUEVAL_TYPE_FLOOR);
        assertThat(accuracy.get("HaluEval QA, length-matched/held-out")[0])
                .as("type accuracy, HaluEval matched, held-out").isGreaterThanOrEqualTo(HALUEVAL_TYPE_FLOOR);
    }

    static final double PARTIAL_FLOOR = 0.75;
    static final double HALUEVAL_TYPE_FLOOR = 0.65;
    static final int HELD_OUT_GROUPS = 4;
    static final long SPLIT_SEED = 16;

    private static double typeAccuracy(List<Case> cases, FaithfulnessScorer scorer) {
        int right = 0;
        for (Case c : cases) {
            right += type(scorer.score(c.answer(), c.question(), List.of(c.context()))).equals(c.expected()) ? 1 : 0;
        }
        return (double) right / cases.size();
    }

    private static String confusionTable(List<Case> cases, FaithfulnessScorer scorer) {
        int[][] m = new int[3][3];
        for (Case c : cases) {
            m[TYPES.indexOf(c.expected())][TYPES.indexOf(type(scorer.score(c.answer(), c.question(),
                    List.of(c.context()))))]++;
        }
        StringBuilder out = new StringBuilder("| expected \\ raised | none | low_faithfulness | hallucination |\n"
                + "|---|---:|---:|---:|\n");
        for (int i = 0; i < 3; i++) {
            out.append("| ").append(TYPES.get(i)).append(" | ").append(m[i][0]).append(" | ").append(m[i][1])
                    .append(" | ").append(m[i][2]).append(" |\n");
        }
        return out.toString();
    }

    /** The partial-support set, split by group: HELD_OUT_GROUPS groups drawn with a seeded shuffle. */
    static List<Case> partialSet() throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                FaithfulnessEvalTest.class.getResourceAsStream("/eval/faithfulness_partial.jsonl"),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (!line.isBlank()) {
                    rows.add(json.readTree(line));
                }
            }
        }
        List<String> groups = new ArrayList<>(rows.stream().map(r -> r.get("group").asText()).distinct().sorted()
                .toList());
        Collections.shuffle(groups, new Random(SPLIT_SEED));
        List<String> heldOut = groups.subList(0, HELD_OUT_GROUPS);
        return rows.stream().map(r -> new Case(r.get("id").asText(), r.get("group").asText(), r.get("kind").asText(),
                r.get("context").asText(), r.get("question").asText(), r.get("answer").asText(),
                r.get("label").asText(), heldOut.contains(r.get("group").asText()))).toList();
    }

    /** HaluEval rows as cases: kind "matched" for length-matched pairs, else "unmatched". */
    private static List<Case> haluevalCases() {
        List<JsonNode> data = EvalData.rows("faithfulness_halueval_qa.jsonl");
        Map<Integer, int[]> wordsByPair = new LinkedHashMap<>();
        for (JsonNode row : data) {
            int[] words = wordsByPair.computeIfAbsent(row.path("pair_id").asInt(), id -> new int[2]);
            words["faithful".equals(row.path("label").asText()) ? 0 : 1] = words(row.path("response").asText());
        }
        List<Case> cases = new ArrayList<>();
        for (JsonNode row : data) {
            int pairId = row.path("pair_id").asInt();
            int[] words = wordsByPair.get(pairId);
            boolean matched = Math.max(words[0], words[1]) <= LENGTH_RATIO * Math.min(words[0], words[1]);
            cases.add(new Case(String.valueOf(pairId), String.valueOf(pairId), matched ? "matched" : "unmatched",
                    row.path("context").asText(), row.path("question").asText(), row.path("response").asText(),
                    "faithful".equals(row.path("label").asText()) ? "none" : "hallucination",
                    EvalData.heldOut(String.valueOf(pairId))));
        }
        return cases;
    }

    private static Confusion confusion(List<Row> rows, Predicate<Row> inSplit,
            Predicate<FaithfulnessScorer.Verdict> positive) {
        Confusion confusion = Confusion.EMPTY;
        for (Row row : rows) {
            if (inSplit.test(row)) {
                confusion = confusion.add(row.hallucinated(), positive.test(row.verdict()));
            }
        }
        return confusion;
    }

    private static int words(String text) {
        Matcher matcher = WORD.matcher(text);
        int count = 0;
        while (matcher.find()) {
            count++;
        }
        return Math.max(count, 1);
    }
}
