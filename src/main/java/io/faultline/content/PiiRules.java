package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.content.PiiScanner.Finding;
import io.faultline.content.PiiScanner.Kind;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.SecurityFailure.Type;
import io.faultline.taxonomy.Severity;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * SECURITY {@code pii_leakage}: personal data or secrets in the answer. PII the caller's own messages already held
 * and the answer repeats is "echoed" and ranks low; PII the model brought in (from its training data, a tool result
 * or a grounding document) is "produced" and ranks high. One failure per call; the evidence holds counts and masked
 * samples, never a value.
 */
@Singleton
public class PiiRules extends ContentRule {

    static final String METHOD = "content.pii.validated";

    private final PiiConfig pii;
    private final PiiScanner scanner;

    public PiiRules(ContentConfig config, PiiConfig pii) {
        super(config);
        this.pii = pii;
        this.scanner = new PiiScanner(pii);
    }

    @Override
    protected List<Failure> detect(LlmCall call, CallContent content) {
        if (!config.detects(Type.PII_LEAKAGE) || !content.hasAnswer()) {
            return List.of();
        }
        String answer = content.answer();
        PiiScanner.Scan scan = scanner.inspect(answer);
        List<Finding> findings = scan.findings();
        if (findings.isEmpty()) {
            return List.of();
        }
        // The request is read only when the answer holds PII, so a clean answer costs one scan. A finding written
        // as-is in the request is an echo whatever a scan of the request says, so the request is scanned only when
        // some finding is not: an answer repeating the caller's data costs one scan, not two.
        String request = content.requestText();
        // Likewise the request's phone numbers are validated only when a phone number of the answer needs them.
        boolean[] literal = new boolean[findings.size()];
        boolean scanRequest = false;
        boolean phones = false;
        for (int i = 0; i < findings.size(); i++) {
            Finding finding = findings.get(i);
            literal[i] = request.contains(answer.substring(finding.start(), finding.end()));
            scanRequest |= !literal[i];
            phones |= !literal[i] && finding.kind() == Kind.PHONE;
        }
        Set<String> sent = new HashSet<>();
        if (scanRequest) {
            List<Finding> inRequest = phones ? null : scanner.scanWithoutPhones(request);
            for (Finding finding : inRequest == null ? scanner.scan(request) : inRequest) {
                sent.add(finding.kind() + ":" + finding.normalized());
            }
        }

        Map<Kind, Integer> perKind = new EnumMap<>(Kind.class);
        List<String> samples = new ArrayList<>();
        int produced = 0;
        int echoed = 0;
        Severity severity = null;
        for (int i = 0; i < findings.size(); i++) {
            Finding finding = findings.get(i);
            // Beyond the scanned bound, the value written as-is still counts as sent.
            boolean echo = literal[i] || sent.contains(finding.kind() + ":" + finding.normalized());
            Severity own = echo ? pii.echoedSeverity()
                    : finding.kind() == Kind.SECRET ? pii.producedSecretSeverity() : pii.producedSeverity();
            severity = severity == null ? own : severity.max(own);
            if (echo) {
                echoed++;
            } else {
                produced++;
            }
            perKind.merge(finding.kind(), 1, Integer::sum);
            if (samples.size() < pii.maxSamples()) {
                samples.add(finding.kind().name().toLowerCase(Locale.ROOT) + " " + finding.masked()
                        + (echo ? " (echoed)" : " (produced)"));
            }
        }

        Map<String, Object> evidence = new LinkedHashMap<>();
        Map<String, Integer> kinds = new LinkedHashMap<>();
        perKind.forEach((kind, count) -> kinds.put(kind.name().toLowerCase(Locale.ROOT), count));
        evidence.put("pii_kinds", kinds);
        evidence.put("produced", produced);
        evidence.put("echoed", echoed);
        evidence.put("samples", samples);
        if (content.truncated() || scanner.cuts(answer) || scanner.cuts(request) || scan.exhausted()) {
            evidence.put("truncated", true);
        }
        return List.of(CallFailures.of(Type.PII_LEAKAGE, call, METHOD, severity, evidence));
    }
}
