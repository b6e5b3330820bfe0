package io.faultline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.content.FaithfulnessConfig;
import io.faultline.content.FaithfulnessScorer;
import io.faultline.testing.ConfigMappings;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
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
                + "to 6 letters) looked up in the context and the question. Defaults: low_faithfulness below 0.8 "
                + "support; hallucination below 0.5, or >= 2 unsupported name/number tokens, or >= 1 contradicted "
                + "number/year. General rules were revised after reading dev errors only (yes/no as stopwords, "
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
        report.write();

        assertThat(either.get("all, length-matched").accuracy()).isGreaterThanOrEqualTo(FLOOR);
        assertThat(either.get("dev, length-matched").accuracy()).isGreaterThanOrEqualTo(FLOOR);
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
