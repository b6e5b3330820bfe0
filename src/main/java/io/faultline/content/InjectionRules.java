package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.classify.SeverityPolicy;
import io.faultline.content.CallContent.Message;
import io.faultline.content.InjectionDetector.Kind;
import io.faultline.content.InjectionDetector.Verdict;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.SecurityFailure.Type;
import io.faultline.taxonomy.Severity;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SECURITY {@code prompt_injection} and {@code jailbreak_attempt} in what this turn brought in: the latest user
 * message (and any user message after the last assistant turn), the tool results after the last assistant message and
 * the grounding documents of {@code requester_metadata} (indirect injection: read by the learned classifier's
 * document head). System messages are the application's own instructions and are never scanned. Evidence names
 * signals, scores and hashed feature ids only: no prompt text is kept.
 */
@Singleton
public class InjectionRules extends ContentRule {

    static final String METHOD = "content.injection.heuristic";

    private final InjectionConfig injection;
    private final InjectionDetector detector;
    private final SeverityPolicy severities;

    public InjectionRules(ContentConfig config, InjectionConfig injection, SeverityPolicy severities) {
        super(config);
        this.injection = injection;
        this.detector = new InjectionDetector(injection);
        this.severities = severities;
    }

    @Override
    protected List<Failure> detect(LlmCall call, CallContent content) {
        boolean injectionOn = config.detects(Type.PROMPT_INJECTION);
        boolean jailbreakOn = config.detects(Type.JAILBREAK_ATTEMPT);
        if (!injectionOn && !jailbreakOn) {
            return List.of();
        }
        List<Message> scanned = new ArrayList<>(scannedMessages(content.messages()));
        for (String document : content.grounding()) {
            scanned.add(new Message(DOCUMENT, document));
        }
        if (scanned.isEmpty()) {
            return List.of();
        }
        Scored bestInjection = null;
        Scored bestJailbreak = null;
        // The per-call budget: a call with hundreds of tool results costs what one long message costs.
        int budget = injection.maxCallChars();
        InjectionDetector.Work work = detector.work();
        for (Message message : scanned) {
            if (budget <= 0) {
                break;
            }
            budget -= Math.min(message.text().length(), Math.max(64, injection.maxScanChars()));
            Verdict verdict = detector.scan(message.text(), work, !"user".equals(message.role()));
            if (bestInjection == null || verdict.injectionScore() > bestInjection.verdict().injectionScore()) {
                bestInjection = new Scored(message.role(), verdict);
            }
            if (bestJailbreak == null || verdict.jailbreakScore() > bestJailbreak.verdict().jailbreakScore()) {
                bestJailbreak = new Scored(message.role(), verdict);
            }
        }
        List<Failure> failures = new ArrayList<>(2);
        if (injectionOn) {
            addIfOver(failures, call, Type.PROMPT_INJECTION, Kind.INJECTION, bestInjection,
                    injection.injectionThreshold());
        }
        if (jailbreakOn) {
            addIfOver(failures, call, Type.JAILBREAK_ATTEMPT, Kind.JAILBREAK, bestJailbreak,
                    injection.jailbreakThreshold());
        }
        return failures;
    }

    /** The role given to {@code requester_metadata} grounding documents in the evidence's {@code message_role}. */
    static final String DOCUMENT = "document";

    /**
     * The latest user message and any other user message after the last assistant message, then every tool message
     * after the last assistant message.
     */
    static List<Message> scannedMessages(List<Message> messages) {
        int lastAssistant = -1;
        int lastUser = -1;
        for (int i = 0; i < messages.size(); i++) {
            String role = messages.get(i).role();
            if ("assistant".equals(role)) {
                lastAssistant = i;
            } else if ("user".equals(role)) {
                lastUser = i;
            }
        }
        List<Message> out = new ArrayList<>(2);
        if (lastUser >= 0 && lastUser < lastAssistant) {
            out.add(messages.get(lastUser));
        }
        for (int i = lastAssistant + 1; i < messages.size(); i++) {
            Message message = messages.get(i);
            if ("user".equals(message.role())) {
                out.add(message);
            }
        }
        for (int i = lastAssistant + 1; i < messages.size(); i++) {
            Message message = messages.get(i);
            if ("tool".equals(message.role()) || "function".equals(message.role())) {
                out.add(message);
            }
        }
        return out;
    }

    private void addIfOver(List<Failure> failures, LlmCall call, Type type, Kind kind, Scored best,
            double threshold) {
        double score = best.verdict().score(kind);
        if (score <= 0 || score < threshold) {
            return;
        }
        Severity base = severities.base(type);
        Severity severity = score >= injection.highScore() ? base.max(Severity.P2) : base;
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("score", Math.round(score * 100) / 100.0);
        evidence.put("threshold", threshold);
        evidence.put("signals", best.verdict().signals(kind));
        InjectionDetector.Learned learned = best.verdict().learned();
        if (learned.skippedScript() != null) {
            evidence.put("model_skipped_script", learned.skippedScript());
        } else if (learned != InjectionDetector.Learned.NONE) {
            evidence.put("rule_score", Math.round(best.verdict().ruleScore(kind) * 100) / 100.0);
            evidence.put("model_score", Math.round(learned.score(kind) * 100) / 100.0);
            evidence.put("model_head", kind == Kind.INJECTION ? learned.injectionHead() : "jailbreak");
            evidence.put("model_features", learned.features(kind));
        }
        evidence.put("message_role", best.role());
        if (best.verdict().truncated()) {
            evidence.put("scan_truncated", true);
        }
        failures.add(CallFailures.of(type, call, METHOD, severity, evidence));
    }

    private record Scored(String role, Verdict verdict) {
    }
}
