package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.classify.SeverityPolicy;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.QualityFailure.Type;
import jakarta.inject.Singleton;
import jakarta.inject.Inject;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * QUALITY {@code hallucination} and {@code low_faithfulness}: an answer to a grounded request whose words the
 * grounding does not support ({@link FaithfulnessScorer}). Calls without grounding get no verdict. At most one failure
 * per call: the strong form when it holds and is switched on, else the weak one.
 */
@Singleton
public class FaithfulnessRules extends ContentRule {

    static final String METHOD = "content.faithfulness.lexical";

    private final FaithfulnessConfig faithfulness;
    private final FaithfulnessScorer scorer;
    private final SeverityPolicy severities;

    @Inject
    public FaithfulnessRules(ContentConfig config, FaithfulnessConfig faithfulness, SeverityPolicy severities) {
        super(config);
        this.faithfulness = faithfulness;
        this.scorer = new FaithfulnessScorer(faithfulness);
        this.severities = severities;
    }

    @Override
    protected List<Failure> detect(LlmCall call, CallContent content) {
        boolean hallucinations = config.detects(Type.HALLUCINATION);
        boolean lowFaithfulness = config.detects(Type.LOW_FAITHFULNESS);
        if (!(hallucinations || lowFaithfulness) || !content.hasAnswer()) {
            return List.of();
        }
        List<String> grounding = groundingOf(content);
        if (grounding.isEmpty()) {
            return List.of();
        }
        FaithfulnessScorer.Verdict verdict = scorer.score(content.answer(), content.lastUserText(), grounding);
        if (!verdict.judged()) {
            return List.of();
        }
        Type type;
        double threshold;
        if (verdict.hallucination() && hallucinations) {
            type = Type.HALLUCINATION;
            threshold = faithfulness.hallucinationThreshold();
        } else if (verdict.unfaithful() && lowFaithfulness) {
            // With hallucination switched off, its strong form still shows as the weak one.
            type = Type.LOW_FAITHFULNESS;
            threshold = faithfulness.lowFaithfulnessThreshold();
        } else {
            return List.of();
        }
        return List.of(CallFailures.of(type, call, METHOD, severities.base(type), evidence(verdict, threshold,
                grounding.size(), content.truncated())));
    }

    /** The grounding an answer is judged against: the metadata's documents, then those found in the messages. */
    static List<String> groundingOf(CallContent content) {
        List<String> grounding = new ArrayList<>(content.grounding());
        grounding.addAll(GroundingFinder.find(content.messages()));
        return grounding;
    }

    private Map<String, Object> evidence(FaithfulnessScorer.Verdict verdict, double threshold, int documents,
            boolean contentTruncated) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("support_score", Math.round(verdict.support() * 1000) / 1000.0);
        evidence.put("threshold", threshold);
        evidence.put("claims_judged", verdict.claims());
        evidence.put("content_units", verdict.units());
        evidence.put("unsupported_units", verdict.unsupported());
        evidence.put("unsupported_entities", verdict.unsupportedEntities());
        evidence.put("contradicted_units", verdict.contradicted());
        evidence.put("unsupported_claims", verdict.unsupportedClaims());
        evidence.put("derived_numbers", verdict.derivedNumbers());
        evidence.put("courtesy_sentences", verdict.courtesySentences());
        evidence.put("grounding_documents", documents);
        // Where the first unsupported units sit in the answer, never their words: evidence outlives the answer, and
        // even single words of it can be personal data. Whoever holds the answer (LiteLLM's logs) can find them.
        List<Map<String, Object>> at = new ArrayList<>();
        for (FaithfulnessScorer.UnitPosition unit : verdict.unsupportedAt()) {
            Map<String, Object> position = new LinkedHashMap<>();
            position.put("kind", unit.kind());
            position.put("offset", unit.offset());
            position.put("chars", unit.chars());
            at.add(position);
        }
        evidence.put("unsupported_at", at);
        if (verdict.truncated() || contentTruncated) {
            evidence.put("truncated", true);
        }
        return evidence;
    }
}
